/**
 * Another organizer's event: its manage page and its dashboard are not
 * found, as the API answers them. Before, a published event (its public
 * read is anybody's) opened with every control of its owner (Remove, Add
 * zone, Cancel the event), each refused only once clicked, and its
 * dashboard showed the owner's zones sold and held.
 */
import { organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("an organizer cannot open another organizer's event to manage it", async ({ page }) => {
  const owner = await organizer();
  const ev = await publishedEvent(owner, { title: unique("Not Yours") });
  const other = await organizer();
  await signIn(page, other, "/organizer");
  for (const path of [`/organizer/events/${ev.id}`, `/organizer/events/${ev.id}/dashboard`]) {
    const res = await page.goto(path);
    expect(res?.status(), path).toBe(404);
    await expect(page.getByTestId("cancel-event")).toHaveCount(0);
    await expect(page.getByText(ev.title)).toHaveCount(0);
  }
  // A buyer neither.
  const buyer = await register("nosy");
  await page.getByTestId("logout").click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await signIn(page, buyer, "/");
  expect((await page.goto(`/organizer/events/${ev.id}`))?.status()).toBe(404);

  // The owner still manages it.
  await page.getByTestId("logout").click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await signIn(page, owner, "/organizer");
  await page.goto(`/organizer/events/${ev.id}`);
  await expect(page.getByTestId("manage-title")).toHaveText(ev.title);
  await expect(page.getByTestId("cancel-event")).toBeVisible();
});
