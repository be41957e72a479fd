/**
 * A session that is over, met in the middle of a purchase: the action says
 * so and offers to sign in again, which comes back to the very page (the
 * hold still runs), and the header no longer shows the person signed in.
 * Before, the checkout said "Your session has ended. Please sign in again."
 * with no way to, while the header still offered "Sign out".
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("a session ended elsewhere: the checkout offers to sign in again and comes back to pay", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Long Lunch"), price: "30.00" });
  const buyer = await register("dozer");
  await signIn(page, buyer, `/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
  const checkout = new URL(page.url()).pathname;

  // The session ends (as a sign-out of this very session elsewhere would end it).
  const cookies = await page.context().cookies();
  const token = (n: string) => cookies.find((c) => c.name === n)!.value;
  await call("POST", "/auth/logout", { refresh_token: token("br_rt") }, token("br_at"));

  await page.getByTestId("pay").click();
  await expect(page.getByTestId("action-error")).toContainText("Your session has ended");
  await expect(page.getByTestId("logout")).toHaveCount(0);
  await page.getByTestId("sign-in-again").click();
  await expect(page).toHaveURL(new RegExp(`/login\\?next=${encodeURIComponent(checkout)}`));
  await page.getByLabel("E-mail").fill(buyer.email);
  await page.getByLabel("Password").fill(buyer.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`${checkout}$`));
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
});
