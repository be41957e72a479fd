/**
 * An automated WCAG 2.1 AA check of the buyer's and the organizer's main
 * pages (ticket sales fall under the European Accessibility Act): axe-core's
 * rules tagged wcag2a, wcag2aa, wcag21a and wcag21aa, through the real mesh.
 * Home, search, an event, the buy page, the checkout (with a declined
 * payment's alert), the confirmation, my bookings, sign-in and registration;
 * the organizer's events, an event's editor and its dashboard; the admin's
 * users, audit log and payments. A violation
 * of impact "serious" or "critical" fails the test; every one found is
 * listed with its rule, the nodes' selectors and the help text.
 *
 * Found when it was added: the "Booking reference" label on its grey box
 * (muted text on bg-muted, 4.3:1) and a destructive alert's description
 * (red at 90 %, 4.49:1), both under the 4.5:1 AA asks of small text; then
 * the audit log's table on a phone, which scrolled sideways in a box the
 * keyboard could not reach (scrollable-region-focusable): it now stacks.
 *
 * Each page loads once; the pages whose layout changes on a phone are
 * checked again after the window narrows to 390 × 844 (the layout is CSS
 * only), so the check adds about half a minute to the run, most of it axe's.
 */
import AxeBuilder from "@axe-core/playwright";
import type { Locator, Page } from "@playwright/test";

import { call, newAdmin, organizer, paidTicket, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const FAILING = new Set(["serious", "critical"]);

/** Checks the page as it stands (and at a phone's width too); one entry per violation. */
async function check(page: Page, name: string, phone: boolean): Promise<string[]> {
  const found: string[] = [];
  for (const [width, size] of phone ? ([["desktop", DESKTOP], ["phone", PHONE]] as const) : ([["desktop", DESKTOP]] as const)) {
    await page.setViewportSize(size);
    const res = await new AxeBuilder({ page }).withTags(TAGS).analyze();
    for (const v of res.violations.filter((v) => FAILING.has(v.impact ?? ""))) {
      const nodes = v.nodes.map((n) => `    ${n.target.join(" ")}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, " ")}` : ""}`);
      found.push(`${name} (${width}): ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})\n${nodes.join("\n")}`);
    }
  }
  await page.setViewportSize(DESKTOP);
  return found;
}

test("the buyer's and the organizer's pages pass axe's WCAG 2.1 AA rules, on a desktop and on a phone", async ({ page }) => {
  const org = await organizer();
  const title = unique("Access Night");
  const ev = await publishedEvent(org, { title, price: "30.00" });
  const buyer = await register("access");
  const paid = await paidTicket(ev, buyer);
  const held = await call<{ id: string }>("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token, {
    "Idempotency-Key": unique("access"),
  });

  const found: string[] = [];
  /** Opens path, waits for what shows it loaded (its h1 by default), checks it. */
  const visit = async (name: string, path: string, opts: { ready?: (p: Page) => Locator; phone?: boolean } = {}) => {
    await page.goto(path);
    await expect((opts.ready ?? ((p) => p.locator("h1")))(page), name).toBeVisible();
    found.push(...(await check(page, name, opts.phone ?? false)));
  };

  // A visitor.
  await visit("home", "/", { ready: (p) => p.getByTestId("event-card").first(), phone: true });
  await visit("search", `/search?q=${encodeURIComponent(title)}`, { ready: (p) => p.getByTestId("event-card") });
  await visit("event", `/events/${ev.slug}`, { ready: (p) => p.getByTestId("zone-available"), phone: true });
  await visit("register", "/register");
  await visit("sign-in", "/login");

  // The buyer.
  await signIn(page, buyer, "/bookings");
  await visit("my bookings", "/bookings", { ready: (p) => p.getByTestId("booking-row").first(), phone: true });
  await visit("buy", `/events/${ev.slug}/buy?show=${ev.showId}&zone=${ev.zoneId}&qty=1`, { ready: (p) => p.getByTestId("reserve") });
  await page.goto(`/checkout/${held.id}`);
  await page.getByLabel("Test card — declined", { exact: true }).check();
  await page.getByTestId("pay").click();
  await expect(page.getByTestId("payment-declined")).toBeVisible();
  found.push(...(await check(page, "checkout, declined", true)));
  await visit("confirmation", `/bookings/${paid.bookingId}?paid=1`, { ready: (p) => p.getByTestId("ticket-status"), phone: true });

  // The organizer.
  await page.getByTestId("logout").click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await signIn(page, org, "/organizer");
  await visit("organizer's events", "/organizer", { ready: (p) => p.getByTestId("organizer-event").first(), phone: true });
  await visit("event editor", `/organizer/events/${ev.id}`, { ready: (p) => p.getByTestId("manage-show"), phone: true });
  await visit("dashboard", `/organizer/events/${ev.id}/dashboard`, { ready: (p) => p.locator("figure svg"), phone: true });

  // An admin (the audit log's table is the widest the app has).
  await page.getByTestId("logout").click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await signIn(page, await newAdmin(), "/admin/users");
  await visit("users", "/admin/users", { ready: (p) => p.getByTestId("user-row").first(), phone: true });
  await visit("audit log", "/admin/audit", { ready: (p) => p.getByTestId("audit-row").first(), phone: true });
  await visit("payments", "/admin/payments", { phone: true });

  if (found.length) console.log(`axe: ${found.length} serious or critical violations\n${found.join("\n")}`);
  expect(found, found.join("\n")).toEqual([]);
});
