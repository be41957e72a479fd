/**
 * An organizer manages the check-in devices of their events in the browser:
 * registers one for an event and reads its credential (shown once), which a
 * gate then uses; revokes it, and the gates refuse it at once. Before, the
 * dashboard spoke of "your check-in devices" but no page could register or
 * revoke one: only the API could. The dashboard counts what offline doors let
 * in that the gate would have refused (a code shown at two doors).
 */
import { call, organizer, paidTicket, publishedEvent, register, unique } from "./harness/api";
import { readState } from "./harness/state";
import { expect, signIn, test } from "./fixtures";

/** A scan with the device's credential: the HTTP status the gate answers. */
async function scan(credential: string, showId: string): Promise<number> {
  const res = await fetch(`${readState().edgeURL}/api/v1/checkin`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${credential}` },
    body: JSON.stringify({ code: "not-a-ticket", show_id: showId }),
  });
  return res.status;
}

test("an organizer registers a check-in device, the gate accepts it, and revoking it ends it", async ({ page }) => {
  page.on("dialog", (d) => void d.accept());
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Gate Night") });
  await signIn(page, org, "/organizer");
  await page.goto("/organizer");
  await page.getByRole("link", { name: "Check-in devices" }).click();
  await expect(page.getByTestId("no-devices")).toBeVisible();

  const name = unique("North gate");
  await page.getByLabel("Device name").fill(name);
  await page.getByLabel(ev.title).check();
  await page.getByTestId("register-device").click();
  const credential = (await page.getByTestId("device-credential").inputValue()).trim();
  expect(credential.length).toBeGreaterThan(20);
  // Where to enter it: the door page (before, "the check-in app", which did not exist).
  await expect(page.getByTestId("device-created").getByRole("link", { name: "door check-in page" })).toHaveAttribute("href", "/door");
  const row = page.locator(`[data-testid=device-row][data-name="${name}"]`);
  await expect(row).toContainText(ev.title);
  await expect(row.getByTestId("device-state")).toHaveText("Active");
  await expect(row.getByTestId("device-last-scan")).toHaveText("No scan yet");
  expect(await scan(credential, ev.showId)).toBe(200);
  // The list says when the gate last heard from the door (a silent one may
  // be offline), and follows the doors by itself: no reload.
  await expect(row.getByTestId("device-last-scan")).toContainText("· 1 scan", { timeout: 15_000 });

  await row.getByTestId("revoke-device").click();
  await expect(row.getByTestId("device-state")).toHaveText("Revoked");
  await expect(row.getByTestId("revoke-device")).toHaveCount(0);
  expect(await scan(credential, ev.showId)).toBe(401);

  // Its event cancelled, the device still names it (the lists the page reads
  // hold drafts and events on sale only: it said "a cancelled event").
  await call("POST", `/events/${ev.id}/cancel`, { reason: "the hall flooded" }, org.token);
  await page.reload();
  await expect(row).toContainText(`${ev.title} (cancelled)`);
});

test("the dashboard counts a ticket that an offline door let in after an online check-in", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Two Doors"), price: "20.00", daysAhead: 20 });
  const buyer = await register("twodoors");
  const { code } = await paidTicket(ev, buyer);
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "North", event_ids: [ev.id] }, org.token);
  expect((await call<{ outcome: string }>("POST", "/checkin", { code, show_id: ev.showId }, dev.credential)).outcome).toBe("valid");
  // The same code (a screenshot) at a door that was offline, synced later.
  await call("POST", "/checkin/sync", { scans: [{ code, show_id: ev.showId, gate: "South", scanned_at: new Date(Date.now() + 1000).toISOString() }] }, dev.credential);

  // Before, the dashboard showed checked in, sold and revoked only: nothing
  // said that a second holder may be inside.
  await signIn(page, org, `/organizer/events/${ev.id}/dashboard`);
  await page.goto(`/organizer/events/${ev.id}/dashboard`);
  await expect(page.getByTestId("dashboard-checkin").getByTestId("checked-in")).toHaveText("1");
  await expect(page.getByTestId("dashboard-checkin").getByTestId("reused")).toHaveText("1");
  await expect(page.getByTestId("dashboard-checkin").getByTestId("revoked-offline")).toHaveText("0");
});
