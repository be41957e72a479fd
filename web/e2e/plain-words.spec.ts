/**
 * What a buyer reads is in their words, not the API's. My bookings showed
 * each status as its enum name ("reserved") with a legend of enum names
 * under the table ("reserved: Held, awaiting payment · confirmed: ..."), and
 * a booking's page said "confirmed Confirmed". Cancelling a reservation
 * spoke of "this hold"; a paid booking under 3 days before its show offered
 * "Cancel and refund $0.00". Registering with an address already taken said
 * "That cannot be done now: an account with this email already exists."
 * The organizer's pages spoke of "holds" (the dashboard's "expired holds"
 * and "Held (unpaid)", the cancel dialog, a cancelled event's note).
 */
import { call, organizer, paidTicket, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("my bookings say each status, and what a cancel gives back, in plain words", async ({ page }) => {
  const org = await organizer();
  // Two days before the show: a cancel refunds nothing.
  const ev = await publishedEvent(org, { title: unique("Late Call"), price: "20.00", daysAhead: 2 });
  const buyer = await register("plain");
  const paid = await paidTicket(ev, buyer);
  const held = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token, {
    "Idempotency-Key": unique("plain"),
  });
  await signIn(page, buyer, "/bookings");

  const rows = page.getByTestId("booking-row");
  await expect(rows.getByTestId("booking-status")).toHaveText(["Awaiting payment", "Confirmed"]);
  await expect(page.getByText(/reserved:|\bHeld\b/)).toHaveCount(0);

  const heldRow = rows.filter({ has: page.locator("[data-status=reserved]") });
  await heldRow.getByTestId("cancel-booking").click();
  await expect(page.getByTestId("refund-quote")).toHaveText("Nothing was paid for this reservation, so nothing is refunded.");
  await expect(page.getByTestId("confirm-cancel")).toHaveText("Cancel booking");
  await page.getByRole("button", { name: "Keep it" }).click();

  const paidRow = rows.filter({ has: page.locator("[data-status=confirmed]") });
  await paidRow.getByTestId("cancel-booking").click();
  await expect(page.getByTestId("refund-amount")).toHaveText("$0.00");
  await expect(page.getByTestId("confirm-cancel")).toHaveText("Cancel without a refund");
  await page.getByRole("button", { name: "Keep it" }).click();

  await page.goto(`/bookings/${paid.bookingId}`);
  await expect(page.getByTestId("booking-status")).toHaveText("Confirmed");
  await expect(page.getByText("confirmed", { exact: true })).toHaveCount(0);
  await page.goto(`/bookings/${held.id}`);
  await expect(page.getByTestId("booking-status")).toHaveText("Awaiting payment");

  await page.goto("/account");
  await expect(page.getByText("Not possible while you have unpaid reservations")).toBeVisible();
});

test("registering with an address already taken says to sign in instead", async ({ page }) => {
  const taken = await register("taken");
  await page.goto("/register");
  await page.getByLabel("Full name").fill("Second Try");
  await page.getByLabel("E-mail").fill(taken.email);
  await page.getByLabel(/^Password/).fill("correct-horse-9");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("action-error")).toHaveText(
    "An account with this e-mail address already exists. Sign in, or reset its password if you forgot it.",
  );
});

test("an organizer's dashboard and cancel speak of unpaid reservations, not holds", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Word Hall") });
  await signIn(page, org, `/organizer/events/${ev.id}/dashboard`);
  await expect(page.getByTestId("sales-range")).toContainText("reservations expired unpaid 0");
  await expect(page.getByRole("columnheader", { name: "Reserved (unpaid)" })).toBeVisible();
  await page.goto(`/organizer/events/${ev.id}`);
  await page.getByTestId("cancel-event").click();
  await expect(page.getByTestId("cancel-consequences")).toContainText("Seats reserved but not paid are released");
  await page.getByTestId("confirm-cancel-event").click();
  await expect(page.getByTestId("event-cancelled")).toContainText("sales are closed, unpaid reservations were released");
  // Nobody paid: nothing is said to be "being refunded".
  await expect(page.getByTestId("event-refunds")).toHaveText("No bookings were paid: there is nothing to refund.");
  await expect(page.locator("main")).not.toContainText(/\bholds?\b|\bheld\b/i);
});
