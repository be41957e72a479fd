/**
 * Accounts: the password-reset mail's link opens the web page; sessions stay
 * alive across the access token's expiry (the app refreshes, rotating the
 * refresh token); a rate-limited sign-in shows its countdown instead of
 * hammering; signed-in pages send strangers to the sign-in page; a mutating
 * call without the CSRF token is refused; a wrong current password is said
 * under its field (marked invalid, focused); a changed password signs out every
 * other browser and keeps this one; a deleted account is signed out and
 * cannot sign in; an admin deletes an account in the admin pages.
 */
import { call, register } from "./harness/api";
import { waitForMail } from "./harness/mail";
import { readState } from "./harness/state";
import { expect, shot, signIn, test } from "./fixtures";

test("forgot password: the mailed link opens the reset page", async ({ page }) => {
  const a = await register("forgetful");
  await page.goto("/forgot-password");
  await page.getByLabel("E-mail").fill(a.email);
  await page.getByRole("button", { name: "Send me a reset link" }).click();
  await expect(page.getByTestId("reset-sent")).toBeVisible();
  const link = await waitForMail(a.email, new RegExp(`${readState().webURL}/reset-password\\?token=[A-Za-z0-9_-]+`));
  await page.goto(link);
  await page.getByLabel(/New password/).fill("a-brand-new-pass-1");
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page.getByTestId("reset-done")).toBeVisible();
  // The link is spent: the page says so in words about the link.
  await page.goto(link);
  await page.getByLabel(/New password/).fill("another-new-pass-2");
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page.getByText("This reset link is invalid, has expired or was used already.")).toBeVisible();
  await signIn(page, { email: a.email, password: "a-brand-new-pass-1" });
  await page.goto("/account");
  await page.getByLabel("Full name").fill("Renamed Person");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("account-link")).toHaveText("Renamed Person");
  await shot(page, "profile");
});

test("a changed password signs out the other browser and keeps this one", async ({ page, browser }) => {
  const a = await register("changer");
  const other = await browser.newContext({ baseURL: readState().webURL });
  const phone = await other.newPage();
  await signIn(phone, a);
  await signIn(page, a, "/account");
  const form = page.getByRole("form", { name: "Change password" });
  await form.getByLabel("Current password").fill("not-the-password");
  await form.getByLabel(/^New password/).fill("a-changed-pass-1");
  await form.getByRole("button", { name: "Change password" }).click();
  // Said under the field it concerns, which is marked for screen readers and has the focus.
  const current = form.getByLabel("Current password");
  await expect(form.getByTestId("field-error-current_password")).toHaveText("Current password is not your current password.");
  await expect(current).toHaveAttribute("aria-invalid", "true");
  await expect(current).toHaveAccessibleDescription("Current password is not your current password.");
  await expect(current).toBeFocused();
  await expect(form.getByLabel(/^New password/)).toHaveValue("a-changed-pass-1");
  await form.getByLabel("Current password").fill(a.password);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByTestId("password-changed")).toBeVisible();
  await page.goto("/bookings");
  await expect(page.getByRole("heading", { name: "My bookings" })).toBeVisible();
  await phone.goto("/bookings");
  await expect(phone).toHaveURL(/\/login\?next=%2Fbookings/);
  await signIn(phone, { email: a.email, password: "a-changed-pass-1" });
  await waitForMail(a.email, new RegExp(`${readState().webURL}/forgot-password`));
  await other.close();
});

test("a user deletes their account, and is signed out for good", async ({ page }) => {
  const a = await register("leaver");
  await signIn(page, a, "/account");
  // Scoped to the form: the sign-in page, still showing for a moment, has a "Password" too.
  const form = page.getByRole("form", { name: "Delete account" });
  await form.getByLabel("Password").fill("not-the-password");
  await form.getByRole("checkbox").check();
  await form.getByRole("button", { name: "Delete my account" }).click();
  await expect(form.getByText(/password is not your password/)).toBeVisible();
  await form.getByLabel("Password").fill(a.password);
  await form.getByRole("button", { name: "Delete my account" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("logout")).toHaveCount(0);
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(a.email);
  await page.getByLabel("Password").fill(a.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Said as what it is on a sign-in page, not "Your session has ended" (the words of a 401 elsewhere).
  await expect(page.getByTestId("action-error")).toHaveText("The e-mail or password is not right. Check both and try again.");
});

test("the session outlives the access token, with a rotated refresh token", async ({ page }) => {
  const a = await register("sleepy");
  await signIn(page, a);
  const before = (await page.context().cookies()).find((c) => c.name === "br_rt")!.value;
  // Access tokens live 1 minute in the e2e mesh; the app refreshes one that
  // expires within a minute, so any signed-in page now refreshes it.
  await page.waitForTimeout(1_000);
  await page.goto("/bookings");
  await expect(page.getByRole("heading", { name: "My bookings" })).toBeVisible();
  const after = (await page.context().cookies()).find((c) => c.name === "br_rt")!.value;
  expect(after).not.toBe(before);
});

test("signed-in pages send strangers to sign in, and come back", async ({ page }) => {
  const a = await register("stranger");
  await page.goto("/bookings");
  await expect(page).toHaveURL(/\/login\?next=%2Fbookings/);
  await page.getByLabel("E-mail").fill(a.email);
  await page.getByLabel("Password").fill(a.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/bookings$/);
});

test("a mutating call without the CSRF token is refused", async ({ page }) => {
  const a = await register("csrf");
  await signIn(page, a);
  const res = await page.evaluate(async () => {
    const r = await fetch("/bff/api/auth/me", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ full_name: "x" }) });
    return { status: r.status, body: await r.json() };
  });
  expect(res.status).toBe(403);
  expect(res.body.error.code).toBe("CSRF_FAILED");
});

test("too many sign-in attempts: the page counts down instead of hammering", async ({ page }) => {
  const a = await register("locked");
  // auth allows 10 attempts an hour per e-mail address, whoever asks.
  for (let i = 0; i < 10; i++) {
    await fetch(`${readState().edgeURL}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: a.email, password: "wrong-password-1" }),
    });
  }
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(a.email);
  await page.getByLabel("Password").fill(a.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("retry-countdown")).toContainText(/trying again in \d+ s/);
  await shot(page, "rate-limited");
});

test("an admin deletes an account for someone who can no longer sign in", async ({ page }) => {
  const s = readState();
  const gone = await register("erased");
  await signIn(page, s.admin, "/admin/users");
  await page.getByLabel("Search users").fill(gone.email);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator(`[data-testid=user-row][data-email="${gone.email}"]`);
  await row.getByTestId("delete-user").click();
  await expect(page.getByRole("dialog")).toContainText(`Delete the account of ${gone.email}?`);
  await page.getByTestId("confirm-delete-user").click();
  await expect(row).toHaveCount(0);
  await expect(page.getByText("No account matches.")).toBeVisible();
  await expect(call("POST", "/auth/login", { email: gone.email, password: gone.password })).rejects.toThrow(/401/);
});
