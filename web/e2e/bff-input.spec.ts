/**
 * The app's own routes that read a JSON body (sign-in, registration, the
 * password change, the account's deletion, a door's sign-in) answer a body
 * that is not a JSON object with a 400 in the API's envelope, and change
 * nothing. Before, a body of `null` (which is JSON) made them read a field
 * of null: 500.
 */
import type { APIResponse, Page } from "@playwright/test";

import { type Account, register } from "./harness/api";
import { readState } from "./harness/state";
import { expect, signIn, test } from "./fixtures";

const ROUTES = ["/bff/session/login", "/bff/session/register", "/bff/session/password", "/bff/session/delete", "/bff/door/session"];
const BODIES = ["null", "42", '"text"', "[]", "{", ""];

/** Signs buyer in on page and answers the headers of a JSON post with its CSRF token. */
async function signedInHeaders(page: Page, buyer: Account) {
  await signIn(page, buyer, "/");
  const csrf = (await (await page.request.get("/bff/session/csrf")).json()) as { data: { token: string } };
  return { "content-type": "application/json", "x-csrf-token": csrf.data.token };
}

/** The error code of an answer in the envelope (undefined for any other). */
const errorCode = async (res: APIResponse) => ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error?.code;

test("the app's routes answer a body that is not a JSON object with a 400, never a 500", async ({ page }) => {
  const buyer = await register("notjson");
  const headers = await signedInHeaders(page, buyer);
  const wrong: string[] = [];
  for (const path of ROUTES) {
    for (const body of BODIES) {
      const res = await page.request.post(path, { headers, data: body });
      const code = await errorCode(res);
      if (res.status() !== 400 || code !== "VALIDATION_ERROR") wrong.push(`${path} ${JSON.stringify(body)}: ${res.status()} ${code}`);
    }
  }
  expect(wrong).toEqual([]);
  // Nothing changed: the account and its session are there.
  const me = await page.request.get("/bff/api/auth/me");
  expect(me.status()).toBe(200);
});

test("a body larger than the edge takes is a 413 from the app's routes too, not \"not a JSON object\"", async ({ page }) => {
  const buyer = await register("bigbody");
  const headers = await signedInHeaders(page, buyer);
  // A JSON object of 2 MiB, and one of 11 MB (past what Next's proxy passes whole).
  const wrong: string[] = [];
  for (const size of [2 << 20, 11_000_000]) {
    const body = JSON.stringify({ email: buyer.email, password: "x".repeat(size) });
    for (const path of [...ROUTES, "/bff/api/bookings/reserve"]) {
      const res = await page.request.post(path, { headers, data: body });
      const code = await errorCode(res);
      if (res.status() !== 413 || code !== "PAYLOAD_TOO_LARGE") wrong.push(`${path} ${size}: ${res.status()} ${code}`);
    }
  }
  expect(wrong).toEqual([]);
  expect((await page.request.get("/bff/api/auth/me")).status()).toBe(200);
});

/** The claims part of a JWT (unsigned: the app reads claims, the gate checks signatures). */
const unsignedJwt = (claims: object) =>
  ["{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", JSON.stringify(claims)].map((p) => Buffer.from(p).toString("base64url")).join(".") + ".c2ln";

test("a door cookie whose expiry no date holds is no session, not a 500", async () => {
  // A door cookie whose expiry no Date can hold: the route read it as a live
  // credential and wrote its expiry as a date, which threw (500).
  const door = await fetch(`${readState().webURL}/bff/door/session`, {
    headers: { cookie: `br_door=${unsignedJwt({ sub: "device:d1", role: "device", evs: ["e1"], exp: 1e20 })}` },
  });
  expect(door.status).toBe(200);
  expect(((await door.json()) as { data: unknown }).data).toBeNull();
});

test("a br_user cookie whose name is no text breaks no page", async ({ page, context }) => {
  // br_user, readable by page scripts, naming the viewer with an object: the
  // header rendered it as a React child, and every page died in the browser.
  const buyer = await register("oddname");
  await signIn(page, buyer, "/");
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const url = new URL(readState().webURL);
  for (const p of ["/", "/account"]) {
    // Written before each page: an answer of the app to a request sent
    // before it (a session renewed on the way) may set br_user anew, naming
    // the buyer; that is fine too, the page must only live.
    await context.addCookies([
      { name: "br_user", value: encodeURIComponent(JSON.stringify({ id: buyer.id, role: "user", name: { first: "x" } })), domain: url.hostname, path: "/" },
    ]);
    await page.goto(p);
    await expect(page.getByTestId("account-link")).toBeVisible();
    await expect(page.getByTestId("account-link")).toHaveText(new RegExp(`^(Account|${buyer.name})$`));
  }
  expect(errors).toEqual([]);
});

test("HEAD on /bff/api is no unreachable edge: no 503, no upstream failure counted", async () => {
  const failures = async () => {
    const text = await (await fetch(readState().webMetricsURL)).text();
    return /^web_bff_upstream_failures_total\{route="api"\} (\d+)/m.exec(text)?.[1];
  };
  const before = await failures();
  // A HEAD passed its (empty) body on, and fetch refuses a HEAD with a body:
  // "the API could not be reached", counted as the edge failing.
  const res = await fetch(`${readState().webURL}/bff/api/events?per_page=1`, { method: "HEAD" });
  expect(res.status).toBe(200);
  expect(await failures()).toBe(before);
});

test("a path with a broken %-escape is no 500: a 400 in the envelope under /bff and /api, the not-found page elsewhere", async ({ page }) => {
  // Next answered a plain "Internal Server Error" 500 for a dynamic route whose segment did not decode.
  const buyer = await register("escape");
  await signIn(page, buyer, "/");
  const wrong: string[] = [];
  for (const p of ["/bff/api/%", "/bff/api/events/%zz", "/bff/public/events/%", "/bff/door/api/%", "/api/v1/queue/lines/%E0%A4%A"]) {
    const res = await page.request.get(p);
    const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error?.code;
    if (res.status() !== 400 || code !== "VALIDATION_ERROR") wrong.push(`${p}: ${res.status()} ${code}`);
  }
  // A page's address (public, and signed in): a link to nothing, whose page offers the way on.
  for (const p of ["/events/%", "/events/%zz/buy", "/checkout/%", "/bookings/%E0%A4%A", "/organizer/events/%/dashboard"]) {
    const res = await page.request.get(p);
    if (res.status() !== 404 || !(await res.text()).includes("We could not find that page")) wrong.push(`${p}: ${res.status()}`);
  }
  expect(wrong).toEqual([]);
});

test("a method a route does not take, or a /bff path of no route, answers in the API's envelope (405 with Allow, 404)", async () => {
  const web = readState().webURL;
  // Next answered these itself: a 405 without body or Allow, the not-found page's HTML for a 404.
  const cases: [string, string, number, string][] = [
    ["GET", "/bff/session/login", 405, "POST, OPTIONS"],
    ["PUT", "/bff/session/logout", 405, "POST, OPTIONS"],
    ["DELETE", "/bff/session/csrf", 405, "GET, HEAD, OPTIONS"],
    ["POST", "/bff/public/categories", 405, "GET, HEAD, OPTIONS"],
    ["PATCH", "/bff/door/session", 405, "GET, POST, DELETE, HEAD, OPTIONS"],
    ["DELETE", "/bff/door/api/checkin", 405, "GET, POST, HEAD, OPTIONS"],
    ["POST", "/api/v1/queue/events", 405, "GET, HEAD, OPTIONS"],
    ["PATCH", "/bff/api/events", 405, ""], // the API's own 405
    ["GET", "/bff/nothing", 404, ""],
    ["POST", "/bff/api", 404, ""],
    ["GET", "/bff/session/login/again", 404, ""],
  ];
  const wrong: string[] = [];
  for (const [method, p, status, allow] of cases) {
    const res = await fetch(web + p, { method, headers: { cookie: "br_csrf=t0k3n", "x-csrf-token": "t0k3n", "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" });
    const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error?.code;
    const want = status === 405 ? "METHOD_NOT_ALLOWED" : "NOT_FOUND";
    if (res.status !== status || code !== want || (allow && res.headers.get("allow") !== allow)) {
      wrong.push(`${method} ${p}: ${res.status} ${code} Allow ${res.headers.get("allow")}`);
    }
  }
  expect(wrong).toEqual([]);
});
