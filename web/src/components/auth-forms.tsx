"use client";

/**
 * Sign-in, registration and password forms. They post to the app's server
 * (/bff/session for sign-in and registration, which keep the tokens in
 * HttpOnly cookies; /bff/api for the password routes), with the CSRF token,
 * and show the API's errors in plain words (a rate limit with its countdown).
 */
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";

import { ActionStatus, FieldError } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi, sessionCall } from "@/lib/api/browser";

/** Where to go after signing in: a local path from ?next=, else home. */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

/**
 * A labelled input; given the form's action and the contract's name of its
 * field (`field`, the input's name unless told), the API's refusal of it is
 * written under it.
 */
function Field(props: React.ComponentProps<typeof Input> & { label: string; name: string; action?: ReturnType<typeof useApiAction>; field?: string }) {
  const { label, action, field = props.name, ...rest } = props;
  return (
    <div className="space-y-2">
      <Label htmlFor={props.name}>{label}</Label>
      <Input id={props.name} {...rest} {...action?.field(field)} />
      {action && <FieldError action={action} name={field} />}
    </div>
  );
}

export function LoginForm() {
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  // The API answers a wrong e-mail or password 401, which elsewhere means an ended session.
  const action = useApiAction({ UNAUTHORIZED: "The e-mail or password is not right. Check both and try again." });
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const ok = await action.run(() => sessionCall("login", { email: f.get("email"), password: f.get("password") }));
    if (ok) {
      window.dispatchEvent(new Event("br:session"));
      router.push(next);
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="space-y-4">
      <Field label="E-mail" name="email" type="email" autoComplete="email" required />
      <Field label="Password" name="password" type="password" autoComplete="current-password" required />
      <ActionStatus state={action} />
      <Button type="submit" className="w-full" disabled={action.running}>
        {action.running ? "Signing in…" : "Sign in"}
      </Button>
      <p className="text-muted-foreground flex justify-between text-sm">
        <Link href="/forgot-password" className="hover:underline">
          Forgot your password?
        </Link>
        <Link href={`/register?next=${encodeURIComponent(next)}`} className="hover:underline">
          Create an account
        </Link>
      </p>
    </form>
  );
}

export function RegisterForm() {
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  // Registration's only conflict is an address already taken (the API's
  // message, "an account with this email already exists", read as "That
  // cannot be done now: ..."): say what to do instead.
  const action = useApiAction({ CONFLICT: "An account with this e-mail address already exists. Sign in, or reset its password if you forgot it." });
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const ok = await action.run(
      () => sessionCall("register", { full_name: f.get("full_name"), email: f.get("email"), password: f.get("password") }),
      form,
    );
    if (ok) {
      window.dispatchEvent(new Event("br:session"));
      router.push(next);
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="space-y-4">
      <Field label="Full name" name="full_name" autoComplete="name" required maxLength={255} action={action} />
      <Field label="E-mail" name="email" type="email" autoComplete="email" required action={action} />
      <Field label="Password (at least 8 characters)" name="password" type="password" autoComplete="new-password" required minLength={8} action={action} />
      <ActionStatus state={action} />
      <Button type="submit" className="w-full" disabled={action.running}>
        Create account
      </Button>
      <p className="text-muted-foreground text-sm">
        Already have one?{" "}
        <Link href={`/login?next=${encodeURIComponent(next)}`} className="hover:underline">
          Sign in
        </Link>
      </p>
    </form>
  );
}

export function ForgotPasswordForm() {
  const action = useApiAction();
  const [sent, setSent] = useState(false);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const email = String(new FormData(e.currentTarget).get("email"));
    if (await action.run(() => browserApi.auth.forgotPassword(email))) setSent(true);
  }
  if (sent) {
    return (
      <p role="status" data-testid="reset-sent">
        If an account uses that address, we sent it a link to choose a new password. The link works for a limited time.
      </p>
    );
  }
  return (
    <form onSubmit={submit} className="space-y-4">
      <Field label="E-mail" name="email" type="email" autoComplete="email" required />
      <ActionStatus state={action} />
      <Button type="submit" className="w-full" disabled={action.running}>
        Send me a reset link
      </Button>
    </form>
  );
}

export function ResetPasswordForm() {
  const token = useSearchParams().get("token") ?? "";
  const action = useApiAction({
    "VALIDATION_ERROR:token": "This reset link is invalid, has expired or was used already. Ask for a new one on the \"Forgot password\" page.",
  });
  const [done, setDone] = useState(false);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const password = String(new FormData(form).get("password"));
    if (await action.run(() => browserApi.auth.resetPassword(token, password), form)) setDone(true);
  }
  if (!token) return <p>This page needs the link from the password-reset e-mail.</p>;
  if (done) {
    return (
      <p role="status" data-testid="reset-done">
        Your password was changed, and every session was signed out. <Link className="underline" href="/login">Sign in</Link> with
        the new one.
      </p>
    );
  }
  return (
    <form onSubmit={submit} className="space-y-4">
      <Field
        label="New password (at least 8 characters)"
        name="password"
        field="new_password"
        type="password"
        autoComplete="new-password"
        required
        minLength={8}
        action={action}
      />
      <ActionStatus state={action} />
      <Button type="submit" className="w-full" disabled={action.running}>
        Set new password
      </Button>
    </form>
  );
}

/** Changes the signed-in user's password (account page): every other session ends, this one goes on. */
export function ChangePasswordForm() {
  const router = useRouter();
  const action = useApiAction();
  const [done, setDone] = useState(false);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setDone(false);
    const form = e.currentTarget;
    const f = new FormData(form);
    const ok = await action.run(
      () => sessionCall("password", { current_password: f.get("current_password"), new_password: f.get("new_password") }),
      form,
    );
    if (ok) {
      form.reset();
      setDone(true);
      window.dispatchEvent(new Event("br:session"));
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="space-y-4" aria-label="Change password">
      <Field label="Current password" name="current_password" type="password" autoComplete="current-password" required action={action} />
      <Field
        label="New password (at least 8 characters)"
        name="new_password"
        type="password"
        autoComplete="new-password"
        required
        minLength={8}
        action={action}
      />
      <ActionStatus state={action} />
      {done && (
        <p role="status" className="text-success text-sm" data-testid="password-changed">
          Password changed. Every other device was signed out; this one stays signed in.
        </p>
      )}
      <Button type="submit" disabled={action.running}>
        Change password
      </Button>
    </form>
  );
}

/**
 * Deletes the signed-in user's account (account page), with its password
 * and an explicit acknowledgement; refusals (an unpaid hold, an organizer's
 * role) come back in plain words and keep the session.
 */
export function DeleteAccountForm() {
  const router = useRouter();
  const action = useApiAction();
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const password = new FormData(e.currentTarget).get("delete_password");
    if ((await action.run(() => sessionCall("delete", { password }))) !== undefined) {
      window.dispatchEvent(new Event("br:session"));
      router.push("/");
      router.refresh();
    }
  }
  return (
    <form onSubmit={submit} className="space-y-4" aria-label="Delete account">
      <Field label="Password" name="delete_password" type="password" autoComplete="current-password" required />
      <label className="flex items-start gap-2 text-sm">
        <input type="checkbox" name="understood" required className="mt-1" />
        <span>
          I understand that my account, my name and e-mail address and the mails kept for me are erased for good. Paid bookings
          stay valid, and tickets already mailed still get me in, but I can no longer see them here.
        </span>
      </label>
      <ActionStatus state={action} />
      <Button type="submit" variant="destructive" disabled={action.running}>
        Delete my account
      </Button>
    </form>
  );
}
