/**
 * The tests' `test`: Playwright's, pointed at the web app global-setup
 * started, with `shot(page, name)` for the README's screenshots, `signIn` and
 * `openDoor`.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import { expect, test as base, type Page } from "@playwright/test";

import type { Account } from "./harness/api";
import { readState } from "./harness/state";

/**
 * Screenshots of the main pages. With E2E_SCREENSHOTS=1 (make web-screenshots)
 * they replace the committed ones in web/docs/screenshots; otherwise they go
 * to test-results/screens, so an ordinary run changes no tracked file.
 */
export async function shot(page: Page, name: string) {
  const dir = process.env.E2E_SCREENSHOTS === "1" ? path.resolve(__dirname, "..", "docs", "screenshots") : path.resolve(__dirname, "..", "test-results", "screens");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true, animations: "disabled" });
}

/** Signs in through the login page, as a person does. */
export async function signIn(page: Page, a: Pick<Account, "email" | "password">, next = "/") {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("E-mail").fill(a.email);
  await page.getByLabel("Password").fill(a.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("logout")).toBeVisible();
}

/**
 * Sets the door page up as a check-in device (its credential), opens the
 * door to the show of the event titled `eventTitle` at `gate`, and waits for
 * its lists.
 */
export async function openDoor(page: Page, credential: string, eventTitle: string, gate: string) {
  await page.getByLabel("Device credential").fill(credential);
  await page.getByTestId("door-setup").click();
  const show = page.getByTestId("door-show").locator("option", { hasText: eventTitle });
  await expect(show).toHaveCount(1);
  await page.getByTestId("door-show").selectOption({ label: (await show.textContent())! });
  await page.getByLabel("Gate").fill(gate);
  await page.getByTestId("door-open").click();
  await expect(page.getByTestId("door-lists-asof")).toContainText("Revocation list as of");
}

export const test = base.extend({
  baseURL: async ({}, provide) => {
    await provide(readState().webURL);
  },
});

export { expect };
