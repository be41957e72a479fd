/**
 * End-to-end tests: a real headless Chromium (Debian's, /usr/bin/chromium, or
 * $CHROMIUM) against the real system, started by e2e/harness/global-setup.ts:
 * bin/rush -target=all on free ports with a fresh Postgres schema and Redis
 * key prefixes, the embedded Kafka and the payment simulator, and the built web
 * app (.next/standalone) in front of it. Nothing of our API is mocked.
 *
 * Run with `make web-e2e` (builds bin/rush and the app first) or
 * `npx playwright test` once both are built.
 */
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.spec.ts",
  globalSetup: "./e2e/harness/global-setup.ts",
  globalTeardown: "./e2e/harness/global-teardown.ts",
  // Two cores: the mesh, the web app and one browser at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
      ],
    },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    actionTimeout: 20_000,
    navigationTimeout: 30_000,
  },
});
