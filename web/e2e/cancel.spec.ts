/**
 * A buyer cancels a paid booking and sees the refund first: the dialog shows
 * the refund quote (the show is more than 7 days away: 100%), then the booking
 * is refunded. A booking whose ticket was used at the door says why it can no
 * longer be cancelled.
 */
import { call, organizer, paidTicket, publishedEvent, register, unique } from "./harness/api";
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
  const bookingPage = new URL(page.url()).pathname.replace(/^\/checkout\//, "/bookings/");

  await page.goto("/bookings");
  await expect(page.getByTestId("booking-status").first()).toHaveText("Confirmed");
  await page.getByTestId("cancel-booking").first().click();
  await expect(page.getByTestId("refund-quote")).toContainText("You paid $30.00");
  await expect(page.getByTestId("refund-amount")).toHaveText("$30.00");
  await shot(page, "cancel-refund");
  await page.getByTestId("confirm-cancel").click();
  await expect(page.getByTestId("booking-status").first()).toHaveText("Refunded", { timeout: 30_000 });
  await shot(page, "my-bookings");
  // The booking says why it ended, in words (it said "(buyer)").
  await page.goto(bookingPage);
  await expect(page.getByTestId("cancel-cause")).toHaveText(": you cancelled it");

  // The refund mail is among the notifications.
  await expect(async () => {
    await page.goto("/notifications");
    await expect(page.getByTestId("notification").filter({ hasText: /refund/i }).first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 45_000 });
});

test("a booking whose ticket was used at the door cannot be cancelled", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Door Night"), price: "30.00", daysAhead: 20 });
  const buyer = await register("doorfan");
  const { code } = await paidTicket(ev, buyer);
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "Door 1", event_ids: [ev.id] }, org.token);
  const scan = await call<{ outcome: string }>("POST", "/checkin", { code, show_id: ev.showId }, dev.credential);
  expect(scan.outcome).toBe("valid");

  await signIn(page, buyer, "/bookings");
  await page.getByTestId("cancel-booking").first().click();
  await expect(page.getByTestId("not-cancellable")).toContainText("checked in at the door");
  await expect(page.getByTestId("confirm-cancel")).toBeDisabled();
});
