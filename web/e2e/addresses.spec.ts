/**
 * Hand-made addresses: a buy page whose show is another event's is not
 * found (it showed one event's title while reserving the other's seats),
 * and every page has an icon (the browser asked for /favicon.ico and got a
 * 404 on each page). A link to nothing says so and offers the way on.
 */
import { organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("a buy address mixing two events is not found; pages have an icon", async ({ page }) => {
  const org = await organizer();
  const a = await publishedEvent(org, { title: unique("Quiet Night") });
  const b = await publishedEvent(org, { title: unique("Loud Night") });
  const buyer = await register("mixer");
  await signIn(page, buyer);

  await page.goto(`/events/${a.slug}/buy?show=${a.showId}&zone=${a.zoneId}&qty=1`);
  await expect(page.getByTestId("reserve")).toBeVisible();
  const res = await page.goto(`/events/${a.slug}/buy?show=${b.showId}&zone=${b.zoneId}&qty=1`);
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("reserve")).toHaveCount(0);

  const href = await page.locator('link[rel="icon"]').first().getAttribute("href");
  expect(href).toBeTruthy();
  expect((await page.request.get(href!)).status()).toBe(200);
});

test("a link to nothing says so and offers the way on", async ({ page }) => {
  // Next's bare "404 | This page could not be found." had no way on but the logo.
  const res = await page.goto("/events/no-such-event-anywhere");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toContainText("We could not find that page");
  await page.getByRole("link", { name: "Find an event" }).click();
  await expect(page).toHaveURL(/\/$/);
});
