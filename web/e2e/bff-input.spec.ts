/**
 * The app's own routes that read a JSON body (sign-in, registration, the
 * password change, the account's deletion, a door's sign-in) answer a body
 * that is not a JSON object with a 400 in the API's envelope, and change
 * nothing. Before, a body of `null` (which is JSON) made them read a field
 * of null: 500.
 */
import { register } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

const ROUTES = ["/bff/session/login", "/bff/session/register", "/bff/session/password", "/bff/session/delete", "/bff/door/session"];
const BODIES = ["null", "42", '"text"', "[]", "{", ""];

test("the app's routes answer a body that is not a JSON object with a 400, never a 500", async ({ page }) => {
  const buyer = await register("notjson");
  await signIn(page, buyer, "/");
  const csrf = (await (await page.request.get("/bff/session/csrf")).json()) as { data: { token: string } };
  const headers = { "content-type": "application/json", "x-csrf-token": csrf.data.token };
  const wrong: string[] = [];
  for (const path of ROUTES) {
    for (const body of BODIES) {
      const res = await page.request.post(path, { headers, data: body });
      const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error?.code;
      if (res.status() !== 400 || code !== "VALIDATION_ERROR") wrong.push(`${path} ${JSON.stringify(body)}: ${res.status()} ${code}`);
    }
  }
  expect(wrong).toEqual([]);
  // Nothing changed: the account and its session are there.
  const me = await page.request.get("/bff/api/auth/me");
  expect(me.status()).toBe(200);
});
