/**
 * A buyer buys a ticket end to end: registers, finds the event by title,
 * reserves two seats, is declined once by the simulator, pays, and gets the
 * booking reference; "my bookings" shows it confirmed.
 */
import { organizer, publishedEvent, unique } from "./harness/api";
import { expect, shot, test } from "./fixtures";

// The buyer's browser is in New York: pages that are theirs write times in its zone.
test.use({ timezoneId: "America/New_York" });

test("a buyer registers, reserves, pays and gets a booking reference", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Harbour Lights"), price: "49.90", seats: 120, zone: "Floor" });

  await page.goto("/register");
  await page.getByLabel("Full name").fill("Ana Buyer");
  await page.getByLabel("E-mail").fill(`${unique("ana")}@e2e.test`);
  await page.getByLabel(/^Password/).fill("correct-horse-9");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("logout")).toBeVisible();
  await expect(page.getByTestId("account-link")).toHaveText("Ana Buyer");

  // The session cookies are HttpOnly: page scripts see none of the tokens.
  const visible = await page.evaluate(() => document.cookie);
  expect(visible).not.toContain("br_at");
  expect(visible).not.toContain("br_rt");
  expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
  const cookies = await page.context().cookies();
  const at = cookies.find((c) => c.name === "br_at");
  expect(at?.httpOnly).toBe(true);
  expect(at?.secure).toBe(true);
  expect(at?.sameSite).toBe("Lax");

  await page.getByLabel("Search by title").fill(ev.title);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\/search\?q=/);
  await expect(page.getByTestId("event-card")).toHaveCount(1);
  // The card says when the show is, in the venue's zone (Lisbon, whatever
  // the buyer's), and what a seat costs at least.
  await expect(page.getByTestId("event-card-dates")).toHaveText(/\d{1,2} \w{3} \d{4}, \d\d:\d\d (WET|WEST)/);
  await expect(page.getByTestId("event-card-sale")).toHaveText("On sale · from $49.90");
  await shot(page, "home");

  await page.getByTestId("event-card").click();
  await expect(page.getByTestId("event-title")).toHaveText(ev.title);
  await expect(page.getByTestId("zone-available")).toHaveText("120 of 120");
  await shot(page, "event");

  await page.getByLabel("Tickets").selectOption("2");
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
  await expect(page.getByTestId("hold-countdown")).toHaveText(/^(9|10):\d\d$/);
  await expect(page.getByTestId("total")).toHaveText("$99.80");
  await shot(page, "checkout");

  // Declined first: no money taken, the hold stays, a new attempt is possible.
  await page.getByLabel("Test card — declined", { exact: true }).check();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("payment-declined")).toBeVisible();

  await page.getByLabel("Test card — succeeds", { exact: true }).check();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  const reference = (await page.getByTestId("booking-reference").textContent())!.trim();
  expect(reference).toMatch(/^BR-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  await expect(page.getByTestId("booking-status")).toHaveText("Confirmed");
  // In the buyer's own zone (this browser's is New York's), saying which;
  // the show, and its tickets' validity, in the venue's (Lisbon's).
  await expect(page.getByTestId("confirmed-at")).toContainText("GMT-5");
  await expect(page.getByTestId("show-when")).toContainText(/ WES?T · Hall 1, Lisbon/);
  // The e-tickets follow the confirmation (the gate issues them from
  // booking.events): the page shows them without the buyer reloading it.
  // Each ticket's state in words (before: the API's enum name, "valid").
  await expect(page.getByTestId("ticket-status")).toHaveText(["Valid", "Valid"], { timeout: 30_000 });
  await expect(page.getByRole("img", { name: /^QR code of ticket \d$/ })).toHaveCount(2);
  await shot(page, "confirmation");

  await page.getByRole("link", { name: "My bookings", exact: true }).click();
  const row = page.locator(`[data-testid=booking-row][data-reference="${reference}"]`);
  await expect(row.getByTestId("booking-status")).toHaveText("Confirmed");

  // The live count on the event page follows the sale (2 sold).
  await page.goto(`/events/${ev.slug}`);
  await expect(page.getByTestId("zone-available")).toHaveText("118 of 120", { timeout: 30_000 });
});
