/**
 * A buyer cancels a paid booking and sees the refund first: the dialog shows
 * the refund quote (the show is more than 7 days away: 100%), then the booking
 * is refunded.
 */
import { organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, shot, signIn, test } from "./fixtures";

test("a buyer cancels a paid booking after seeing the refund", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Jazz Cellar"), price: "30.00", daysAhead: 20 });
  const buyer = await register("jazzfan");
  await signIn(page, buyer);
  await page.goto(`/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });

  await page.goto("/bookings");
  await expect(page.getByTestId("booking-status").first()).toHaveText("confirmed");
  await page.getByTestId("cancel-booking").first().click();
  await expect(page.getByTestId("refund-quote")).toContainText("You paid $30.00");
  await expect(page.getByTestId("refund-amount")).toHaveText("$30.00");
  await shot(page, "cancel-refund");
  await page.getByTestId("confirm-cancel").click();
  await expect(page.getByTestId("booking-status").first()).toHaveText("refunded", { timeout: 30_000 });
  await shot(page, "my-bookings");

  // The refund mail is among the notifications.
  await expect(async () => {
    await page.goto("/notifications");
    await expect(page.getByTestId("notification").filter({ hasText: /refund/i }).first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 45_000 });
});
