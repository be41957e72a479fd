/**
 * Every page has exactly one h1, saying what the page is (a screen reader's
 * first landmark). The sign-in pages, the account, a booking, the buy page,
 * the checkout and a new event had none: their titles were card titles
 * (div), and a page that was only an error said it in an alert's div.
 * And the new event form names a title of only spaces as the title.
 */
import { call, organizer, publishedEvent, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";
import type { Page } from "@playwright/test";

async function oneH1(page: Page, path: string) {
  await page.goto(path);
  const h1 = page.locator("h1");
  await expect(h1, path).toHaveCount(1);
  await expect(h1, path).not.toHaveText(/^\s*$/);
}

test("every page has one h1 that says what it is", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Heading Night") });
  for (const path of ["/", "/search?q=heading", "/login", "/register", "/forgot-password", "/reset-password?token=x", `/events/${ev.slug}`, "/door", "/no-such-page"]) {
    await oneH1(page, path);
  }
  const booking = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, org.token, {
    "Idempotency-Key": unique("heading"),
  });
  await signIn(page, org, "/");
  for (const path of [
    "/account",
    "/bookings",
    `/bookings/${booking.id}`,
    `/checkout/${booking.id}`,
    `/events/${ev.slug}/buy?show=${ev.showId}&zone=${ev.zoneId}&qty=1`,
    "/notifications",
    "/organizer",
    "/organizer/devices",
    `/organizer/events/${ev.id}`,
    `/organizer/events/${ev.id}/dashboard`,
    "/organizer/events/new",
  ]) {
    await oneH1(page, path);
  }

  // A title of only spaces: the form names the field, not a constraint.
  await page.getByLabel("Title").fill("   ");
  await page.getByLabel("Venue", { exact: true }).fill("Hall");
  await page.getByTestId("save-event").click();
  await expect(page.getByText("title must not be blank")).toBeVisible();
});
