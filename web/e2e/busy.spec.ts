/**
 * A page the API refused as busy (429, 503) counts down and renders itself
 * again, waiting longer each time, until it loads, with nobody reloading
 * it. Before, it tried once: a page still refused then showed "We will try
 * again in a moment" for good.
 *
 * The buyer's own rate limit (the edge's `general` bucket, per user) is
 * drained by other calls of the same account for as long as the test wants
 * the page refused.
 */
import { call, register } from "./harness/api";
import { readState } from "./harness/state";
import { expect, signIn, test } from "./fixtures";

test("a page refused as busy keeps trying until it loads", async ({ page }) => {
  const buyer = await register("busy");
  await signIn(page, buyer, "/bookings");
  await expect(page.getByRole("heading", { name: "My bookings" })).toBeVisible();
  const token = (await call<{ access_token: string }>("POST", "/auth/login", { email: buyer.email, password: buyer.password })).access_token;

  let draining = true;
  let limited = false;
  const drain = async () => {
    while (draining) {
      const r = await fetch(`${readState().edgeURL}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
      if (r.status === 429) limited = true;
      await r.arrayBuffer();
    }
  };
  const drains = Array.from({ length: 48 }, drain);
  let refreshes = 0;
  page.on("request", (r) => {
    if (r.headers()["rsc"] === "1" && new URL(r.url()).pathname === "/bookings") refreshes++;
  });
  try {
    await expect.poll(() => limited, { timeout: 60_000 }).toBe(true);
    // A token now and then slips through to the page: load it again until
    // it is refused, and until it was refused once more after trying again
    // by itself (then it must count down and try a second time).
    let triedTwice = false;
    for (let load = 0; load < 10 && !triedTwice; load++) {
      await page.reload();
      refreshes = 0;
      if (!(await page.locator('[data-testid=api-error][data-code=RATE_LIMITED]').isVisible())) continue;
      const until = Date.now() + 20_000;
      while (Date.now() < until && !triedTwice) {
        if (!(await page.getByTestId("api-error").isVisible())) break; // loaded: try another load
        triedTwice = refreshes >= 2;
        await page.waitForTimeout(200);
      }
    }
    expect(triedTwice, "the page, still refused after its first new try, tried again").toBe(true);
  } finally {
    draining = false;
    await Promise.all(drains);
  }
  await expect(page.getByRole("heading", { name: "My bookings" })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId("api-error")).toHaveCount(0);
});
