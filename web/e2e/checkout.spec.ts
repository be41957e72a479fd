/**
 * Checkout beyond the straight path: a buyer declined once who reloads the
 * page (or comes back to it from "my bookings") and pays with another card;
 * Back after paying, and Back from the checkout; an event of two dates
 * names the one being bought; Pay in a second tab of the same checkout,
 * while the first tab's payment is under way or after it went through; a
 * payment whose verdict or confirmation could not be read, or had not come
 * when the page's wait ended (Check again, the booking's page, never Pay
 * again, nor "received" or "paid" before it is).
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("a buyer declined once reloads the checkout and pays with another card", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Second Chance"), price: "25.00" });
  const buyer = await register("retry");
  await signIn(page, buyer, `/events/${ev.slug}`);
  await page.goto(`/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);

  await page.getByLabel("Test card — declined", { exact: true }).check();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("payment-declined")).toBeVisible();

  // A reload (or "Pay" in my bookings) starts the page afresh: the declined
  // attempt's key is spent, and another card is a new payment. Before, the
  // page sent the declined attempt's key again with the other card, and the
  // API refused it ("this Idempotency-Key was used for a different request")
  // at every click.
  await page.reload();
  await page.getByLabel("Test card — succeeds", { exact: true }).check();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
});

test("Back after paying does not offer to pay again", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("No Way Back"), price: "12.00" });
  const buyer = await register("back");
  await signIn(page, buyer, `/events/${ev.slug}`);
  await page.goto(`/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
  const checkout = page.url();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });

  // The router kept the checkout as it was: "Seats held for 9:55" and a Pay
  // button for a booking already paid. Now it sees the booking is no longer
  // held and goes to the booking's page.
  await page.goBack();
  await expect(page).not.toHaveURL(checkout);
  await expect(page.getByTestId("booking-status")).toHaveText("Confirmed");
  await expect(page.getByTestId("pay")).toHaveCount(0);
});

/** A booking held by a new buyer, signed in on page with its checkout open. */
async function heldCheckout(page: import("@playwright/test").Page, title: string): Promise<string> {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique(title), price: "15.00" });
  const buyer = await register("twotabs");
  const b = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token, {
    "Idempotency-Key": unique("twotabs"),
  });
  await signIn(page, buyer, `/checkout/${b.id}`);
  await expect(page.getByTestId("pay")).toBeEnabled();
  return b.id;
}

test("Pay in a second tab follows the payment the first tab started", async ({ page, context }) => {
  const id = await heldCheckout(page, "Two Tabs");
  const first = await context.newPage();
  await first.goto(`/checkout/${id}`);
  await first.getByLabel("Test card — slow", { exact: true }).check();
  await first.getByTestId("pay").click();
  await expect(first.getByText("Waiting for the payment provider…")).toBeVisible();

  // This tab still offers Pay (with the card that succeeds, another key).
  // Before, the API's refusal of a second payment ("this booking already
  // has a payment", naming it) was all it said, beside a Pay that could not
  // work, while the first tab's payment went through.
  const refused = page.waitForResponse((r) => r.url().endsWith("/bff/api/payments") && r.request().method() === "POST");
  await page.getByTestId("pay").click();
  expect((await refused).status()).toBe(409);
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId("action-error")).toHaveCount(0);
  await expect(first.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
});

test("Pay on a checkout left open after the booking was paid elsewhere goes to the booking", async ({ page, context }) => {
  const id = await heldCheckout(page, "Paid Elsewhere");
  const other = await context.newPage();
  await other.goto(`/checkout/${id}`);
  await other.getByTestId("pay").click();
  await expect(other.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });

  // Before: "That cannot be done now: only a reserved booking can be paid."
  // beside Pay and a running countdown, for a booking already paid.
  await page.getByLabel("Test card — slow", { exact: true }).check();
  const refused = page.waitForResponse((r) => r.url().endsWith("/bff/api/payments") && r.request().method() === "POST");
  await page.getByTestId("pay").click();
  expect((await refused).status()).toBe(409);
  await expect(page).toHaveURL(new RegExp(`/bookings/${id}$`));
  await expect(page.getByTestId("booking-status")).toHaveText("Confirmed");
});

test("a payment the provider is still deciding, or a booking not confirmed yet, after the page's wait is never called received", async ({ page }) => {
  // The page's clock: the waits (90 s for a verdict, 60 s for the
  // confirmation) pass at once.
  await page.clock.install();
  const id = await heldCheckout(page, "Long Verdict");
  const payments = countPayments(page);
  // The provider keeps deciding: every read of the payment says processing
  // (and of the booking, held).
  await page.route("**/bff/api/payments/*", (route) => answerWith(route, { status: "processing" }));
  await page.route(`**/bff/api/bookings/${id}`, (route) => answerWith(route, { status: "reserved" }));
  const read = page.waitForResponse((r) => /\/bff\/api\/payments\/[^/]+$/.test(r.url()));
  await page.getByTestId("pay").click();
  await read;
  await page.clock.fastForward("01:35");
  // Before, the page said "Payment received. Confirming your tickets…" of
  // a payment it had never seen succeed.
  await expect(page.getByTestId("payment-state")).toHaveText("Your payment was sent; we could not learn its outcome yet.");
  await expect(page.getByTestId("pay")).toHaveCount(0);
  await expect(page.getByTestId("check-again")).toBeEnabled();

  // The verdict comes; the booking still reads held (the saga is behind).
  await page.unroute("**/bff/api/payments/*");
  const held = page.waitForResponse((r) => r.url().endsWith(`/bff/api/bookings/${id}`));
  await page.getByTestId("check-again").click();
  await held;
  await page.clock.fastForward("01:05");
  // Before, the page went on to the booking's page as paid (?paid=1).
  await expect(page.getByTestId("payment-state")).toHaveText("Payment received. We could not confirm your tickets yet.");
  await expect(page).toHaveURL(new RegExp(`/checkout/${id}$`));

  await page.unroute(`**/bff/api/bookings/${id}`);
  await page.getByTestId("check-again").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  expect(payments).toHaveLength(1);
});

/** Answers a GET with the real answer's data changed by `change`. */
async function answerWith(route: import("@playwright/test").Route, change: Record<string, unknown>) {
  if (route.request().method() !== "GET") return route.continue();
  const res = await route.fetch();
  const body = (await res.json()) as { data: Record<string, unknown> };
  return route.fulfill({ response: res, json: { ...body, data: { ...body.data, ...change } } });
}

/** An error no retry cures (the busy answers are retried by themselves), for a GET of the routes it is set on. */
function broken(route: import("@playwright/test").Route) {
  return route.request().method() === "GET"
    ? route.fulfill({ status: 500, json: { success: false, error: { code: "INTERNAL_ERROR", message: "internal error" } } })
    : route.continue();
}

/** Counts the payments page creates. */
function countPayments(page: import("@playwright/test").Page): string[] {
  const made: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().endsWith("/bff/api/payments")) made.push(r.url());
  });
  return made;
}

test("a payment received whose confirmation could not be read offers Check again and the booking, never Pay again", async ({ page }) => {
  const id = await heldCheckout(page, "Lost Answer");
  const payments = countPayments(page);
  await page.route(`**/bff/api/bookings/${id}`, broken);
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("action-error")).toHaveAttribute("data-code", "INTERNAL_ERROR");
  // Before, "Payment received. Confirming your tickets…" stayed for good,
  // the error under it and Pay disabled: only a reload got out.
  await expect(page.getByTestId("pay")).toHaveCount(0);
  await expect(page.getByTestId("payment-state")).toHaveText("Payment received. We could not confirm your tickets yet.");
  await expect(page.getByTestId("booking-link")).toHaveAttribute("href", `/bookings/${id}`);
  // Still failing: the same words, and the same ways on.
  await page.getByTestId("check-again").click();
  await expect(page.getByTestId("action-error")).toHaveAttribute("data-code", "INTERNAL_ERROR");
  await expect(page.getByTestId("check-again")).toBeEnabled();
  await expect(page.getByTestId("payment-state")).toHaveText("Payment received. We could not confirm your tickets yet.");

  // Check again follows the same payment to the confirmation.
  await page.unroute(`**/bff/api/bookings/${id}`);
  await page.getByTestId("check-again").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  expect(payments).toHaveLength(1);
});

test("a payment whose verdict could not be read offers Check again and the booking, never Pay again", async ({ page }) => {
  const id = await heldCheckout(page, "Lost Verdict");
  const payments = countPayments(page);
  await page.route("**/bff/api/payments/*", broken);
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("action-error")).toHaveAttribute("data-code", "INTERNAL_ERROR");
  // Before, Pay came back here, as if no payment had been made.
  await expect(page.getByTestId("pay")).toHaveCount(0);
  await expect(page.getByTestId("payment-state")).toHaveText("Your payment was sent; we could not learn its outcome yet.");
  await expect(page.getByTestId("check-again")).toBeEnabled();
  // The booking's own page tells what became of it.
  await page.getByTestId("booking-link").click();
  await expect(page).toHaveURL(new RegExp(`/bookings/${id}$`));
  await expect(page.getByTestId("booking-status")).toHaveText("Confirmed", { timeout: 30_000 });
  expect(payments).toHaveLength(1);
});

test("Back from the checkout goes to the event, not to Reserve again", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("One Hold"), price: "15.00" });
  const buyer = await register("oncer");
  await signIn(page, buyer, `/events/${ev.slug}`);
  await page.goto(`/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
  // Before, Back showed the buy page with its Reserve button, and a click
  // held a second set of seats (for an event with a waiting room, Back
  // joined its line again, at the end).
  await page.goBack();
  await expect(page).toHaveURL(new RegExp(`/events/${ev.slug}$`));
  await expect(page.getByTestId("reserve")).toHaveCount(0);
});

test("a device whose clock is 20 minutes ahead still sees the hold's time and pays", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Fast Clock"), price: "18.00" });
  const buyer = await register("clock");
  // The page's clock only: the servers keep theirs.
  await page.clock.install({ time: Date.now() + 20 * 60_000 });
  await signIn(page, buyer, `/events/${ev.slug}`);
  await page.goto(`/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
  // Before, the countdown subtracted the device's clock from the hold's
  // deadline: "expired", "Your hold expired", and no Pay for a live hold.
  await expect(page.getByTestId("hold-countdown")).toHaveText(/^(9|10):\d\d$/);
  await page.reload();
  await expect(page.getByTestId("hold-countdown")).toHaveText(/^(9|10):\d\d$/);
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
});

test("an event of two dates: the buy page and the checkout say which date is bought", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Two Nights"), price: "22.00", daysAhead: 30 });
  // A second date, added on sale.
  const second = await call<{ id: string }>("POST", `/events/${ev.id}/shows`, { show_date: new Date(Date.now() + 31 * 86400_000).toISOString() }, org.token);
  await call("POST", `/shows/${second.id}/zones`, { name: "Floor", price: "22.00", total_seats: 50 }, org.token);
  const buyer = await register("picker");
  await signIn(page, buyer, `/events/${ev.slug}`);
  const show = page.getByTestId("show").nth(1);
  const when = (await show.locator("h2").innerText()).trim();
  expect(when).toMatch(/\d{4}, \d\d:\d\d/);
  await show.getByTestId("buy").click();
  // Before, both said "1 × Floor at $22.00": nothing told which night was being paid for.
  await expect(page.getByTestId("show-when")).toHaveText(when);
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
  await expect(page.getByTestId("show-when")).toHaveText(when);
});
