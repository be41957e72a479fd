/**
 * Unit tests (Vitest): the app's logic without a browser or a server — the
 * envelope and error words, retries after Retry-After, the contract's routes
 * and types, sessions (CSRF, JWT claims, one refresh per token) and the queue
 * client. fetch and EventSource are stubbed here; the real API is exercised
 * by the e2e suite (e2e/).
 */
import path from "node:path";

import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@": path.resolve(__dirname, "src"),
      // Next resolves "server-only" to a guard for client bundles; tests are neither.
      "server-only": path.resolve(__dirname, "src/test/empty.ts"),
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
    typecheck: { enabled: false },
  },
});
