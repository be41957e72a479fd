/**
 * The waiting room, end to end on the queue API's ticket stream.
 *
 * The organizer sets the knobs on the event's page (PUT /events/{id}/queue):
 * a wrong rate is refused in plain words, then one buyer a second, a cap of
 * shoppers and the automatic switch; the page shows them again after a
 * reload (the line's public state). A buyer with others ahead joins, watches
 * the place on the EventSource of /api/v1/queue/events?ticket= (no token),
 * keeps the place across a reload (the ticket from sessionStorage, no second
 * join), is let in, reserves with the pass and pays. A buyer whose page
 * predates the switch is refused the plain reserve and taken into the line
 * (the same way a reserve shed with details.queue_event_id is). A join that
 * failed for good offers the ways on: sign in again when the session ended,
 * try again otherwise.
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { readState } from "./harness/state";
import { expect, shot, signIn, test } from "./fixtures";

test("an organizer sets the waiting room's knobs; a buyer waits on the ticket stream, is let in and pays", async ({ page, browser }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Queue Fest"), queue: true, seats: 50, price: "25.00" });

  // The organizer's knobs, in the browser.
  await signIn(page, org, `/organizer/events/${ev.id}`);
  await page.goto(`/organizer/events/${ev.id}`);
  await expect(page.getByTestId("queue-state")).toHaveText("on");
  const rate = page.getByLabel("Buyers let in per second");
  const cap = page.getByLabel("Most shoppers at once (0: no cap)");
  await rate.fill("200000");
  await page.getByTestId("save-queue").click();
  await expect(page.getByTestId("action-error")).toHaveAttribute("data-code", "VALIDATION_ERROR");
  await expect(page.getByTestId("action-error")).toContainText("Please check the form: buyers let in per second must be");
  await rate.fill("1");
  await cap.fill("40");
  await page.getByLabel("Switch the waiting room on by itself when the sale overloads").selectOption("on");
  await page.getByTestId("save-queue").click();
  await expect(page.getByTestId("queue-saved")).toHaveText(
    "Saved: 1 buyer a second, at most 40 shopping at once, switches on by itself under overload: yes.",
  );
  await expect(page.getByTestId("action-error")).toHaveCount(0);
  // A fresh page shows the values in force (the line's state, within a tick).
  await expect(async () => {
    await page.reload();
    await expect(page.getByLabel("Buyers let in per second")).toHaveValue("1", { timeout: 1000 });
    await expect(page.getByLabel("Most shoppers at once (0: no cap)")).toHaveValue("40", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });

  // Without a pass the reserve is refused: the line is real.
  const early = await register("early");
  await expect(
    call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, early.token, { "Idempotency-Key": unique("k") }),
  ).rejects.toThrow(/QUEUE_PASS_REQUIRED/);
  // Let the admitter read the slower rate (queue.settings-ttl is 2 s).
  await new Promise((r) => setTimeout(r, 2500));
  // The buyer, in a browser of their own, signed in before the others join:
  // they are let in one a second from their join, and a buyer who joined
  // after all of them were in had nobody ahead (a slow machine's sign-in).
  const ctx = await browser.newContext({ baseURL: readState().webURL });
  const buyerPage = await ctx.newPage();
  const joins: string[] = [];
  const viaApp: string[] = [];
  buyerPage.on("request", (r) => {
    if (r.method() === "POST" && r.url().endsWith("/bff/api/queue/join")) joins.push(r.url());
    if (r.url().includes("/bff/api/queue/events")) viaApp.push(r.url());
  });
  const buyer = await register("patient");
  await signIn(buyerPage, buyer);
  await buyerPage.goto(`/events/${ev.slug}`);
  const ahead = await Promise.all(Array.from({ length: 10 }, () => register("ahead")));
  for (const other of ahead) await call("POST", "/queue/join", { event_id: ev.id }, other.token);
  const stream = buyerPage.waitForRequest((r) => new URL(r.url()).pathname === "/api/v1/queue/events");
  await buyerPage.getByTestId("buy").click();
  const first = new URL((await stream).url());
  const ticket = first.searchParams.get("ticket");
  expect(ticket).toMatch(/^[A-Za-z0-9_-]+/);
  expect(first.searchParams.get("event_id")).toBe(ev.id);
  await expect(buyerPage.getByTestId("waiting-room")).toBeVisible();
  await expect(buyerPage.getByTestId("queue-position")).toHaveText(/^[1-9]\d*$/);
  await expect(buyerPage.getByTestId("queue-connection")).toHaveText("Live");
  await shot(buyerPage, "waiting-room");

  // A reload keeps the place: the same ticket's stream, no second join.
  const again = buyerPage.waitForRequest((r) => new URL(r.url()).pathname === "/api/v1/queue/events");
  await buyerPage.reload();
  expect(new URL((await again).url()).searchParams.get("ticket")).toBe(ticket);
  expect(joins).toHaveLength(1);

  // Admitted, the page reserves at once with the pass and goes to checkout.
  await expect(buyerPage).toHaveURL(/\/checkout\//, { timeout: 60_000 });
  expect(joins).toHaveLength(1);
  expect(viaApp).toEqual([]);
  await buyerPage.getByTestId("pay").click();
  await expect(buyerPage.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  await expect(buyerPage.getByTestId("booking-reference")).toHaveText(/^BR-/);
  await ctx.close();
});

test("a buyer whose event switched its waiting room on meanwhile is sent into the line", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Late Queue"), queue: false, seats: 20, price: "15.00" });
  const buyer = await register("late");
  await signIn(page, buyer);
  await page.goto(`/events/${ev.slug}/buy?show=${ev.showId}&zone=${ev.zoneId}&qty=1`);
  await expect(page.getByTestId("reserve")).toBeVisible();

  // The organizer switches the waiting room on; wait until reserves demand a pass.
  await call("PUT", `/events/${ev.id}/queue`, { enabled: true, admit_per_second: 5 }, org.token);
  const probe = await register("probe");
  await expect(async () => {
    await expect(
      call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, probe.token, { "Idempotency-Key": unique("k") }),
    ).rejects.toThrow(/QUEUE_PASS_REQUIRED/);
  }).toPass({ timeout: 20_000 });

  // The page still offers the plain reserve: refused, it takes the buyer into the line.
  await page.getByTestId("reserve").click();
  await expect(page.getByTestId("action-error")).toHaveAttribute("data-code", "QUEUE_PASS_REQUIRED");
  await page.getByRole("button", { name: "Go to the waiting room" }).click();
  await expect(page).toHaveURL(/\/checkout\//, { timeout: 60_000 });
});

test("a waiting room whose join failed offers to sign in again, and to try again", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Rough Line"), queue: true, seats: 20, price: "15.00" });
  const buyer = await register("rough");
  await signIn(page, buyer, `/events/${ev.slug}`);

  // The session ends (a sign-out of this very session elsewhere) while the
  // buy page joins the line: the join meets it once /bff/api could not renew it.
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  await page.route(
    "**/bff/api/queue/join",
    async (route) => {
      await held;
      await route.continue();
    },
    { times: 1 },
  );
  const joining = page.waitForRequest((r) => r.url().endsWith("/bff/api/queue/join"));
  await page.getByTestId("buy").click();
  await joining;
  const cookies = await page.context().cookies();
  const token = (n: string) => cookies.find((c) => c.name === n)!.value;
  await call("POST", "/auth/logout", { refresh_token: token("br_rt") }, token("br_at"));
  release();
  await expect(page.getByTestId("queue-error")).toContainText("Your session has ended");
  // Before, the sentence was all: no way to sign in, nor to join again.
  const buy = new URL(page.url());
  await page.getByTestId("sign-in-again").click();
  await expect(page).toHaveURL(/\/login\?next=/);
  // Back on the buy page, the queue fails once with an error no retry cures.
  await page.route("**/bff/api/queue/join", (route) => route.fulfill({ status: 500, json: { success: false, error: { code: "INTERNAL_ERROR", message: "internal error" } } }), {
    times: 1,
  });
  await page.getByLabel("E-mail").fill(buyer.email);
  await page.getByLabel("Password").fill(buyer.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL((u) => u.pathname === buy.pathname && u.search === buy.search);
  await expect(page.getByTestId("queue-error")).toContainText("Something went wrong");
  await expect(page.getByTestId("sign-in-again")).toHaveCount(0);
  await page.getByTestId("queue-try-again").click();
  await expect(page).toHaveURL(/\/checkout\//, { timeout: 60_000 });
});
