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

/*
 * The event page showed the organizer's "published" badge to every buyer,
 * show dates without their day of the week, a radio of 13 px as the only
 * way to choose a zone (its name did nothing), and a cancelled event's
 * zones with radios and "Tickets are not on sale right now.".
 */
test("an event's page speaks to buyers: no organizer's states, the show's weekday, a zone chosen by its name", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Weekday Hall"), price: "30.00", zone: "Floor" });
  await call("POST", `/shows/${ev.showId}/zones`, { name: "Balcony", price: "18.50", total_seats: 40 }, org.token);
  await page.goto(`/events/${ev.slug}`);
  await expect(page.getByTestId("event-title")).toHaveText(ev.title);
  await expect(page.locator("main")).not.toContainText(/published/i);
  await expect(page.getByTestId("sale-window")).toContainText("Tickets on sale");
  await expect(page.getByTestId("show").locator("h2")).toHaveText(/^\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4}, \d\d:\d\d WES?T$/);
  // Clicking a zone's name chooses it.
  await page.getByTestId("zone-row").filter({ hasText: "Balcony" }).getByText("Balcony").click();
  await expect(page.getByRole("radio", { name: "Choose Balcony" })).toBeChecked();
  await expect(page.getByTestId("buy")).toHaveAttribute("href", /zone=/);
  const balcony = (await call<{ id: string; name: string }[]>("GET", `/shows/${ev.showId}/zones`)).find((z) => z.name === "Balcony")!;
  await expect(page.getByTestId("buy")).toHaveAttribute("href", new RegExp(`zone=${balcony.id}`));

  const gone = await publishedEvent(org, { title: unique("Gone Hall") });
  await call("POST", `/events/${gone.id}/cancel`, { reason: "the roof" }, org.token);
  await page.goto(`/events/${gone.slug}`);
  await expect(page.getByTestId("event-cancelled")).toBeVisible();
  await expect(page.getByRole("radio")).toHaveCount(0);
  await expect(page.getByTestId("sale-closed")).toHaveText("This event was cancelled: its tickets are no longer sold.");
  await expect(page.getByTestId("sale-window")).toHaveCount(0);
});

/*
 * A held booking's page did not say until when it could be paid; its
 * Cancel beside Pay now read as leaving the payment; my bookings did not
 * say which date a booking was for; notifications spoke of "booking_confirmed"
 * kinds and a "sent" badge; the profile called a buyer a "user".
 */
test("a booking says when to pay by and which date it is for; mails and the profile in words", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Pay By Hall"), price: "12.00" });
  const buyer = await register("payby");
  const held = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token, {
    "Idempotency-Key": unique("payby"),
  });
  await signIn(page, buyer, `/bookings/${held.id}`);
  await expect(page.getByTestId("pay-by")).toHaveText(/\d{4}, \d\d:\d\d/);
  await expect(page.getByTestId("cancel-booking")).toHaveText("Cancel booking");
  await expect(page.getByTestId("event-link")).toHaveAttribute("href", `/events/${ev.slug}`);
  await page.goto("/bookings");
  await expect(page.getByTestId("booking-show-when")).toHaveText(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), .* WES?T$/);
  await page.goto("/notifications");
  await expect(page.getByTestId("delivery-status").first()).toHaveText(/^(Sent|Sending)$/);
  await expect(page.getByRole("columnheader", { name: "Kind" })).toHaveCount(0);
  await page.goto("/account");
  await expect(page.locator("main")).not.toContainText(/· user ·/);
});

/*
 * A new organizer's page said "None." three times and nothing on what to do;
 * the dashboard wrote its range as the API's ISO days ("2026-12-07 – 2026-12-07").
 */
test("a new organizer is told how to start; the dashboard writes its days as people do", async ({ page }) => {
  const org = await organizer();
  await signIn(page, org, "/organizer");
  await expect(page.getByTestId("no-events")).toContainText("You have no events yet.");
  await page.getByRole("link", { name: "Create your first event" }).click();
  await expect(page).toHaveURL(/\/organizer\/events\/new$/);
  const ev = await publishedEvent(org, { title: unique("Day Hall") });
  await page.goto("/organizer");
  await expect(page.getByTestId("no-events")).toHaveCount(0);
  await expect(page.getByTestId("organizer-event")).toHaveCount(1);
  await page.goto(`/organizer/events/${ev.id}/dashboard`);
  await expect(page.getByTestId("sales-range")).toContainText(/Since the sale opened \(\d{1,2} \w{3} \d{4}( – \d{1,2} \w{3} \d{4})?, UTC\)/);
  await expect(page.getByTestId("sales-range")).not.toContainText(/\d{4}-\d{2}-\d{2}/);
});
