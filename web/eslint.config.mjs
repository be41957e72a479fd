import { defineConfig, globalIgnores } from "eslint/config";
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const eslintConfig = defineConfig([
  ...nextVitals,
  ...nextTs,
  globalIgnores([
    ".next/**",
    "out/**",
    "build/**",
    "next-env.d.ts",
    // Generated from proto/ by `make generate`.
    "src/gen/**",
    "test-results/**",
    "playwright-report/**",
    "e2e/.run/**",
  ]),
]);

export default eslintConfig;
