/**
 * A click that already did its work keeps its button off while the page
 * moves on: Reserve holds one set of seats (its idempotency key is spent on
 * success, so a second click made a second hold, withheld from other buyers
 * until it expired, and counted against the per-person limit), and "Create
 * draft" creates one draft. The next page is slowed down here, as on a slow
 * phone connection, where the second tap happens.
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

const slow = (ms: number) => async (route: import("@playwright/test").Route) => {
  await new Promise((r) => setTimeout(r, ms));
  await route.continue();
};

test("Reserve stays off once the seats are held, while the checkout loads", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Slow Phone"), price: "20.00" });
  const buyer = await register("tapper");
  await signIn(page, buyer, `/events/${ev.slug}`);
  await page.getByTestId("buy").click();
  await expect(page.getByTestId("reserve")).toBeEnabled();
  await page.route(/\/checkout\//, slow(4_000));
  const reserved = page.waitForResponse((r) => r.url().endsWith("/bff/api/bookings/reserve"));
  await page.getByTestId("reserve").click();
  expect((await reserved).status()).toBe(201);
  await expect(page.getByTestId("reserve")).toBeDisabled();
  await expect(page).toHaveURL(/\/checkout\//, { timeout: 30_000 });
  const mine = await call<unknown[]>("GET", "/bookings", undefined, buyer.token);
  expect(mine).toHaveLength(1);
});

test("Create draft stays off once the draft exists, while its page loads", async ({ page }) => {
  const org = await organizer();
  await signIn(page, org, "/organizer/events/new");
  const title = unique("Only Once");
  await page.getByLabel("Title").fill(title);
  await page.getByLabel("Venue", { exact: true }).fill("Hall 2");
  await page.route(/\/organizer\/events\/[0-9a-f-]{36}/, slow(4_000));
  const created = page.waitForResponse((r) => r.url().endsWith("/bff/api/events") && r.request().method() === "POST");
  await page.getByTestId("save-event").click();
  expect((await created).status()).toBe(201);
  await expect(page.getByTestId("save-event")).toBeDisabled();
  await expect(page.getByTestId("manage-title")).toHaveText(title, { timeout: 30_000 });
  const drafts = await call<{ title: string }[]>("GET", "/events?mine=true&status=draft&per_page=100", undefined, org.token);
  expect(drafts.filter((e) => e.title === title)).toHaveLength(1);
});
