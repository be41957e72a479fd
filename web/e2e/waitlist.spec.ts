/**
 * A sold-out zone's waitlist, as a visitor finds it: offered at once (before,
 * with every zone sold out none was chosen, and the page showed only a
 * disabled "Sold out" until the visitor clicked the zone), a visitor not
 * signed in is asked to sign in (before: "Your session has ended"), and a
 * buyer on the waitlist still sees their place after a reload (before: the
 * offer to join again).
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, test } from "./fixtures";

test("a visitor finds a sold-out zone's waitlist, signs in, joins, and keeps the place across a reload", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Full House"), seats: 1 });
  const first = await register("first");
  await call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, first.token, { "Idempotency-Key": unique("key") });
  const buyer = await register("patient");

  await page.goto(`/events/${ev.slug}`);
  await expect(page.getByTestId("zone-available")).toHaveText("Sold out");
  await page.getByTestId("join-waitlist").click();
  await expect(page.getByTestId("action-error")).toHaveText("Sign in to join the waitlist.");
  await page.getByRole("link", { name: "Sign in", exact: true }).last().click();
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel("E-mail").fill(buyer.email);
  await page.getByLabel("Password").fill(buyer.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`/events/${ev.slug}$`));

  await page.getByTestId("join-waitlist").click();
  await expect(page.getByTestId("waitlist-entry")).toContainText("You are number 1 of 1");
  await page.reload();
  await expect(page.getByTestId("waitlist-entry")).toContainText("You are number 1 of 1");
  await expect(page.getByTestId("join-waitlist")).toHaveCount(0);
});
