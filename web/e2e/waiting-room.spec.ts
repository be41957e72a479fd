/**
 * A buyer buys through the waiting room: the event has a queue, three buyers
 * are ahead, admission runs at one buyer a second (the organizer knob the
 * queue API does not expose yet, set in the database), so the buyer sees the
 * line, is let in, reserves with the queue pass, and pays.
 */
import { execFileSync } from "node:child_process";

import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { readState } from "./harness/state";
import { expect, shot, signIn, test } from "./fixtures";

test("a buyer waits in line, is let in, reserves with the pass and pays", async ({ page }) => {
  const s = readState();
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Queue Fest"), queue: true, seats: 50, price: "25.00" });
  execFileSync("psql", [s.postgresURL, "-qc", `UPDATE ${s.schema}.events SET queue_admit_per_second = 1 WHERE id = '${ev.id}'`]);
  // Without a pass the reserve is refused: the line is real.
  const early = await register("early");
  await expect(
    call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, early.token, { "Idempotency-Key": unique("k") }),
  ).rejects.toThrow(/QUEUE_PASS_REQUIRED/);
  // Let the admitter read the slower rate (queue.settings-ttl is 2 s).
  await new Promise((r) => setTimeout(r, 2500));
  for (let i = 0; i < 4; i++) {
    const other = await register("ahead");
    await call("POST", "/queue/join", { event_id: ev.id }, other.token);
  }

  const buyer = await register("patient");
  await signIn(page, buyer);
  await page.goto(`/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await expect(page.getByTestId("waiting-room")).toBeVisible();
  await expect(page.getByTestId("queue-position")).toHaveText(/^[1-9]\d*$/);
  await expect(page.getByTestId("queue-connection")).toHaveText("Live");
  await shot(page, "waiting-room");

  // Admitted, the page reserves at once with the pass and goes to checkout.
  await expect(page).toHaveURL(/\/checkout\//, { timeout: 60_000 });
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId("booking-reference")).toHaveText(/^BR-/);
});
