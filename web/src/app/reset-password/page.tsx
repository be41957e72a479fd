/** The page the password-reset e-mail links to (auth.reset-url, ?token=...). */
import type { Metadata } from "next";

import { ResetPasswordForm } from "@/components/auth-forms";
import { AuthPage } from "@/components/auth-page";

export const metadata: Metadata = { title: "Choose a new password", referrer: "no-referrer" };

export default function ResetPasswordPage() {
  return (
    <AuthPage title="Choose a new password">
      <ResetPasswordForm />
    </AuthPage>
  );
}
