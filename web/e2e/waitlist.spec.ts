/**
 * A sold-out zone's waitlist, as a visitor finds it: offered at once (before,
 * with every zone sold out none was chosen, and the page showed only a
 * disabled "Sold out" until the visitor clicked the zone), a visitor not
 * signed in is asked to sign in (before: "Your session has ended"), and a
 * buyer on the waitlist still sees their place after a reload (before: the
 * offer to join again).
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("a visitor finds a sold-out zone's waitlist, signs in, joins, and keeps the place across a reload", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Full House"), seats: 1 });
  const first = await register("first");
  await call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, first.token, { "Idempotency-Key": unique("key") });
  const buyer = await register("patient");

  // A signed-in viewer who never reserved here nor joined the waitlist costs
  // booking no query for unpaid reservations (a sale's opening brings
  // thousands of such views a second).
  const pendingAsked: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/bookings/pending")) pendingAsked.push(r.url());
  });
  await page.goto(`/events/${ev.slug}`);
  await expect(page.getByTestId("zone-available")).toHaveText("Sold out");
  await page.getByTestId("join-waitlist").click();
  await expect(page.getByTestId("action-error")).toHaveText("Sign in to join the waitlist.");
  await page.getByRole("link", { name: "Sign in", exact: true }).last().click();
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel("E-mail").fill(buyer.email);
  await page.getByLabel("Password").fill(buyer.password);
  // The page asks, once signed in, for the viewer's place on the waitlist;
  // it would ask for the reservations at the same moment.
  const placeAsked = page.waitForResponse((r) => r.url().includes(`/waitlist/${ev.zoneId}`));
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`/events/${ev.slug}$`));
  await placeAsked;
  expect(pendingAsked).toEqual([]);

  await page.getByTestId("join-waitlist").click();
  await expect(page.getByTestId("waitlist-entry")).toContainText("You are number 1 of 1");
  await page.reload();
  await expect(page.getByTestId("waitlist-entry")).toContainText("You are number 1 of 1");
  await expect(page.getByTestId("join-waitlist")).toHaveCount(0);
});

test("a buyer whose waitlist place became seats sees them on the event's page and pays", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Second Wave"), seats: 1, price: "15.00" });
  const first = await register("first");
  const held = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, first.token, {
    "Idempotency-Key": unique("key"),
  });
  const buyer = await register("patient");
  await call("POST", "/waitlist", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token);
  await signIn(page, buyer, `/events/${ev.slug}`);
  await expect(page.getByTestId("waitlist-entry")).toContainText("You are number 1 of 1");

  // The seat comes back and is reserved for the buyer. Before, the page
  // said only "Sold out: join the waitlist": the place was gone, and
  // nothing told of the seats waiting for the payment.
  await call("POST", `/bookings/${held.id}/cancel`, { reason: "changed my mind" }, first.token);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("my-reservation")).toContainText("Seats came back for you from the waitlist: 1 ticket reserved until", { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await page.getByRole("link", { name: "Pay now" }).click();
  await expect(page).toHaveURL(/\/checkout\//);
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 30_000 });
});
