import type { Metadata } from "next";

import { ForgotPasswordForm } from "@/components/auth-forms";
import { AuthPage } from "@/components/auth-page";

export const metadata: Metadata = { title: "Forgot password" };

export default function ForgotPasswordPage() {
  return (
    <AuthPage title="Forgot your password?" description="We will e-mail you a link to choose a new one.">
      <ForgotPasswordForm />
    </AuthPage>
  );
}
