/**
 * The door page: staff at a gate check tickets in as one of the organizer's
 * check-in devices, online and offline. Before, the devices page told the
 * organizer to enter the credential "in the check-in app on the device", and
 * there was none: only raw API calls could scan.
 *
 * Online the gate decides; offline (context.setOffline: the page's own calls
 * to /bff fail too) the page decides with the lists it fetched (the event's
 * keys, the show's revocation list, the tickets it let in) and queues the
 * scans with what it did; back online, they are synced, and the refused
 * scan of a refunded ticket counts as no entry (its `door` was sent).
 */
import { call, organizer, paidTicket, publishedEvent, register, unique } from "./harness/api";
import { expect, openDoor, shot, test } from "./fixtures";

test("a door checks tickets in online and offline, and syncs its offline scans", async ({ page, context }) => {
  page.on("dialog", (d) => void d.accept());
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Door Night"), price: "15.00", daysAhead: 20 });
  const buyer = await register("doorbuyer");
  const [first, second, refunded] = await Promise.all([paidTicket(ev, buyer), paidTicket(ev, buyer), paidTicket(ev, buyer)]);
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "North 2", event_ids: [ev.id] }, org.token);
  // Refunded before the door fetches its lists: on its revocation list.
  await call("POST", `/bookings/${refunded.bookingId}/cancel`, { reason: "cannot come" }, buyer.token);
  await expect
    .poll(async () => (await call<{ tickets: unknown[] }>("GET", `/shows/${ev.showId}/revoked-tickets`, undefined, dev.credential)).tickets.length, {
      timeout: 20_000,
    })
    .toBe(1);

  await page.goto("/door");
  await page.getByLabel("Device credential").fill("not a credential");
  await page.getByTestId("door-setup").click();
  await expect(page.getByTestId("door-setup-error")).toContainText("not a check-in device's credential");
  await openDoor(page, dev.credential, ev.title, "North 2");

  const code = page.getByTestId("door-code");
  const verdict = page.getByTestId("door-verdict");
  await expect(code).toBeFocused();
  await code.fill(first.code);
  await code.press("Enter");
  await expect(verdict).toHaveAttribute("data-verdict", "admit");
  await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");
  await expect(page.getByTestId("door-words")).toHaveText("Valid ticket · Floor");
  await expect(code).toBeFocused();
  await code.fill(first.code);
  await code.press("Enter");
  await expect(page.getByTestId("door-headline")).toHaveText("REFUSE");
  await expect(page.getByTestId("door-words")).toContainText("Already used at North 2, ");
  await expect(page.getByTestId("door-pending")).toHaveText("0");

  // The network goes: the door decides alone (on a phone's width).
  await page.setViewportSize({ width: 390, height: 844 });
  await context.setOffline(true);
  await code.fill(second.code);
  await code.press("Enter");
  await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");
  await expect(verdict).toContainText("offline");
  await expect(page.getByTestId("door-network")).toHaveText("Offline");
  await code.fill(refunded.code);
  await code.press("Enter");
  await expect(page.getByTestId("door-words")).toHaveText("Refunded or cancelled");
  await expect(page.getByTestId("door-headline")).toHaveText("REFUSE");
  await expect(page.getByTestId("door-pending")).toHaveText("2");
  await shot(page, "door");
  // The same ticket again at this door, offline: it let it in already.
  await code.fill(second.code);
  await code.press("Enter");
  await expect(page.getByTestId("door-words")).toContainText("Already used at North 2");
  await expect(page.getByTestId("door-pending")).toHaveText("3");
  // The page asked the browser to keep its storage (the queued scans); where
  // the browser declined, the queue says what could still clear it.
  const storageKept = await page.getByTestId("door-state").getAttribute("data-storage-kept");
  expect(["true", "false"]).toContain(storageKept);
  await expect(page.getByTestId("door-storage-note")).toHaveCount(storageKept === "false" ? 1 : 0);

  // Back online: the queue is sent.
  await context.setOffline(false);
  await expect(page.getByTestId("door-pending")).toHaveText("0");
  await expect(page.getByTestId("door-network")).toHaveText("Online");
  const stats = await call<{ checked_in: number; revoked_offline: number; reused: number }>("GET", `/shows/${ev.showId}/checkin-stats`, undefined, org.token);
  // The refunded ticket's refused scan and the second ticket's refused
  // second scan are no entries: without `door` they counted as revoked_offline and reused.
  expect(stats).toMatchObject({ checked_in: 2, revoked_offline: 0, reused: 0 });

  // Ending the session: the page asks for a credential again.
  await page.getByTestId("door-end").click();
  await expect(page.getByLabel("Device credential")).toBeVisible();
});

test("a check-in whose answer comes too late is one entry, not two", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Door Slow"), price: "15.00", daysAhead: 20 });
  const buyer = await register("doorslow");
  const ticket = await paidTicket(ev, buyer);
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "West", event_ids: [ev.id] }, org.token);
  await page.goto("/door");
  await openDoor(page, dev.credential, ev.title, "West");

  // The gate records the check-in, but its answer arrives after the door
  // stopped waiting (4 s): the door decides alone and queues the scan,
  // which it then syncs. Before scanned_at named the online scan, the
  // synced copy was a second scan, and the ticket counted as reused.
  await page.route("**/bff/door/api/checkin", async (route) => {
    const res = await route.fetch();
    await new Promise((r) => setTimeout(r, 5_000));
    await route.fulfill({ response: res }).catch(() => {}); // the page gave up on it
  });
  await page.getByTestId("door-code").fill(ticket.code);
  await page.getByTestId("door-code").press("Enter");
  await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");
  await expect(page.getByTestId("door-verdict")).toContainText("offline");
  await page.unroute("**/bff/door/api/checkin");
  await expect(page.getByTestId("door-pending")).toHaveText("0", { timeout: 20_000 });
  const stats = await call<{ checked_in: number; reused: number }>("GET", `/shows/${ev.showId}/checkin-stats`, undefined, org.token);
  expect(stats).toMatchObject({ checked_in: 1, reused: 0 });
});

test("the door page refuses the credential of a revoked device", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Door Gone") });
  const dev = await call<{ credential: string; device: { id: string } }>("POST", "/checkin/devices", { name: "South", event_ids: [ev.id] }, org.token);
  await call("DELETE", `/checkin/devices/${dev.device.id}`, undefined, org.token);
  await page.goto("/door");
  await page.getByLabel("Device credential").fill(dev.credential);
  await page.getByTestId("door-setup").click();
  await expect(page.getByTestId("door-setup-error")).toContainText("the device was revoked");
});

test("a new device sends the scans a revoked device made offline", async ({ page, context }) => {
  page.on("dialog", (d) => void d.accept());
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Door Handover"), price: "15.00", daysAhead: 20 });
  const buyer = await register("doorhandover");
  const ticket = await paidTicket(ev, buyer);
  const first = await call<{ credential: string; device: { id: string } }>("POST", "/checkin/devices", { name: "East", event_ids: [ev.id] }, org.token);
  await page.goto("/door");
  await openDoor(page, first.credential, ev.title, "East");

  // Offline, the door lets the holder in; then the organizer revokes the
  // device, and its sync is refused: the scan stays queued.
  await context.setOffline(true);
  await page.getByTestId("door-code").fill(ticket.code);
  await page.getByTestId("door-code").press("Enter");
  await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");
  await expect(page.getByTestId("door-pending")).toHaveText("1");
  await call("DELETE", `/checkin/devices/${first.device.id}`, undefined, org.token);
  await context.setOffline(false);
  await expect(page.getByTestId("door-state")).toContainText("refuses this device's credential");
  await expect(page.getByTestId("door-pending")).toHaveText("1");

  // A new device in the same browser offers the left scan, and sends it as its own.
  await page.getByTestId("door-end").click();
  const second = await call<{ credential: string }>("POST", "/checkin/devices", { name: "East 2", event_ids: [ev.id] }, org.token);
  await openDoor(page, second.credential, ev.title, "East");
  await expect(page.getByTestId("door-left-count")).toHaveText("1");
  await page.getByTestId("door-adopt").click();
  await expect(page.getByTestId("door-left")).toHaveCount(0);
  await expect(page.getByTestId("door-pending")).toHaveText("0");
  const stats = await call<{ checked_in: number }>("GET", `/shows/${ev.showId}/checkin-stats`, undefined, org.token);
  expect(stats.checked_in).toBe(1);
});

test("a door reloaded without network comes back and scans, and no other page is controlled", async ({ page, context }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Door Reload"), price: "15.00", daysAhead: 20 });
  const buyer = await register("doorreload");
  const ticket = await paidTicket(ev, buyer);
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "West", event_ids: [ev.id] }, org.token);

  // The worker's script is sent so that a changed one is fetched again.
  const sw = await page.request.get("/door-sw.js");
  expect(sw.headers()["cache-control"]).toBe("no-cache");
  expect(sw.headers()["content-type"]).toContain("javascript");

  // One online visit: the page is controlled (without a second load) and kept.
  await page.goto("/door");
  await openDoor(page, dev.credential, ev.title, "West");
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null)).toMatch(/\/door-sw\.js$/);
  await expect(page.getByTestId("door-state")).toHaveAttribute("data-kept", "true");

  // The cache does not grow with every deployment: reloaded online, the page
  // has the worker delete the assets it did not load that were kept more than
  // a week ago (an earlier deployment's), and keep a recent one (a chunk
  // loaded on demand, such as the camera's decoder).
  const cached = () =>
    page.evaluate(async () => (await (await caches.open("door-v1")).keys()).map((r) => new URL(r.url).pathname).filter((p) => p.startsWith("/_next/static/")));
  await page.evaluate(async () => {
    const c = await caches.open("door-v1");
    const kept = (daysAgo: number) => new Response("x", { headers: { "x-door-kept-at": String(Date.now() - daysAgo * 86_400_000) } });
    await c.put("/_next/static/chunks/earlier-deployment.js", kept(30));
    await c.put("/_next/static/chunks/on-demand.js", kept(1));
  });
  await page.reload();
  await expect(page.getByTestId("door-state")).toHaveAttribute("data-kept", "true");
  await expect.poll(cached).not.toContain("/_next/static/chunks/earlier-deployment.js");
  const after = await cached();
  expect(after).toContain("/_next/static/chunks/on-demand.js");
  // Every asset the page loaded is still kept.
  const loaded = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .map((e) => new URL(e.name).pathname)
      .filter((p) => p.startsWith("/_next/static/")),
  );
  expect(loaded.length).toBeGreaterThan(0);
  expect(loaded.filter((p) => !after.includes(p))).toEqual([]);

  // The network goes, and the tablet reloads the page: it comes back as the device, its door open.
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId("door-network")).toHaveText("Offline");
  await expect(page.getByTestId("door-offline-note")).toContainText("Opened offline: scans are decided by this door until the network is back");
  await expect(page.getByTestId("door-offline-note")).toContainText("reloaded without network, it comes back");
  await expect(page.getByText(ev.title)).toBeVisible();
  const code = page.getByTestId("door-code");
  await code.fill(ticket.code);
  await code.press("Enter");
  await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");
  await expect(page.getByTestId("door-verdict")).toContainText("offline");
  await expect(page.getByTestId("door-pending")).toHaveText("1");

  // Back online: the scan is sent.
  await context.setOffline(false);
  await expect(page.getByTestId("door-pending")).toHaveText("0");
  await expect(page.getByTestId("door-network")).toHaveText("Online");
  const stats = await call<{ checked_in: number }>("GET", `/shows/${ev.showId}/checkin-stats`, undefined, org.token);
  expect(stats.checked_in).toBe(1);

  // The worker's scope is /door: the rest of the app is not controlled.
  const other = await context.newPage();
  await other.goto("/");
  expect(await other.evaluate(() => navigator.serviceWorker.controller)).toBeNull();
  expect(await other.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.scope ?? null)).toBeNull();
});
