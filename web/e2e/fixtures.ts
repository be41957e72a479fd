/**
 * The tests' `test`: Playwright's, pointed at the web app global-setup
 * started, with `shot(page, name)` for the README's screenshots and `signIn`.
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

export const test = base.extend({
  baseURL: async ({}, provide) => {
    await provide(readState().webURL);
  },
});

export { expect };
