/**
 * A phone's width (390 px): no page is wider than the screen. The header of
 * a signed-in admin (My bookings, Organizer, Admin, the name, Sign out) was
 * 170 px wider, so every page scrolled sideways and Sign out sat off screen.
 */
import { newAdmin } from "./harness/api";
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
