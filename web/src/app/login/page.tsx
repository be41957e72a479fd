import type { Metadata } from "next";

import { LoginForm } from "@/components/auth-forms";
import { AuthPage } from "@/components/auth-page";

export const metadata: Metadata = { title: "Sign in" };

export default function LoginPage() {
  return (
    <AuthPage title="Sign in" description="Welcome back.">
      <LoginForm />
    </AuthPage>
  );
}
