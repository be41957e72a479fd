import type { Metadata } from "next";

import { RegisterForm } from "@/components/auth-forms";
import { AuthPage } from "@/components/auth-page";

export const metadata: Metadata = { title: "Create account" };

export default function RegisterPage() {
  return (
    <AuthPage title="Create your account" description="It takes a few seconds, and your tickets are always here.">
      <RegisterForm />
    </AuthPage>
  );
}
