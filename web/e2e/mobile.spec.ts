/**
 * A phone's width (390 px): no page is wider than the screen. The header of
 * a signed-in admin (My bookings, Organizer, Admin, the name, Sign out) was
 * 170 px wider, so every page scrolled sideways and Sign out sat off screen.
 * My bookings and notifications are a block per row on a phone, and so are
 * the organizer's tables (events, zones, sales, devices), each value named,
 * and the dashboard's chart has hour labels a phone can read.
 */
import { call, newAdmin, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test.use({ viewport: { width: 390, height: 844 } });

test("a signed-in admin's pages fit a phone's width", async ({ page }) => {
  await signIn(page, await newAdmin(), "/");
  for (const path of ["/", "/bookings", "/account"]) {
    await page.goto(path);
    await expect(page.getByTestId("logout")).toBeInViewport({ ratio: 1 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
  }
});

test("on a phone, my bookings show each one's status, Pay and Cancel without scrolling sideways", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Pocket Gig"), price: "19.00" });
  const buyer = await register("pocket");
  await call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 2 }, buyer.token, { "Idempotency-Key": unique("pocket") });
  await signIn(page, buyer, "/bookings");
  const row = page.getByTestId("booking-row");
  // The table was wider than the screen: status, Pay and Cancel sat off to the right.
  await expect(row.getByTestId("booking-status")).toBeInViewport({ ratio: 1 });
  await expect(row.getByRole("link", { name: "Pay" })).toBeInViewport({ ratio: 1 });
  await expect(row.getByTestId("cancel-booking")).toBeInViewport({ ratio: 1 });
  await expect(row).toContainText("2 tickets");
  await expect(row).toContainText("$38.00");
  await page.goto("/notifications");
  await expect(page.getByTestId("notification").first()).toBeInViewport({ ratio: 1 });
});

test("on a phone, an organizer's tables show every column without scrolling sideways", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Pocket Stage") });
  await call("POST", "/checkin/devices", { name: unique("Door"), event_ids: [ev.id] }, org.token);
  await signIn(page, org, "/organizer");
  for (const path of ["/organizer", `/organizer/events/${ev.id}`, `/organizer/events/${ev.id}/dashboard`, "/organizer/devices"]) {
    await page.goto(path);
    await expect(page.locator("table").first(), path).toBeVisible();
    // Each table fits its box: nothing sits off to the right of it.
    const wider = await page.locator("[data-slot=table-container]").evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).length);
    expect(wider, path).toBe(0);
  }
  // The dashboard's hourly chart: an SVG scaled down to the phone's width
  // shrank its hour labels with it, to about 5 px; they read as on a
  // desktop (9 to 11 px).
  await page.goto(`/organizer/events/${ev.id}/dashboard`);
  const labels = page.locator("figure svg text");
  await expect(labels.first()).toBeVisible();
  for (const h of await labels.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height))) expect(h).toBeGreaterThanOrEqual(10);
  await page.goto("/organizer/devices");
  // The last page, devices: its state and Revoke within the screen's width.
  for (const el of [page.getByTestId("device-state"), page.getByTestId("revoke-device")]) {
    const box = await el.boundingBox();
    expect(box && box.x + box.width).toBeLessThanOrEqual(390);
  }
});
