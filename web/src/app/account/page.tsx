/** The signed-in user's profile: name (editable), e-mail, role; their password; deleting the account. */
import type { Metadata } from "next";

import { ApiErrorPanel } from "@/components/api-error-panel";
import { ChangePasswordForm, DeleteAccountForm } from "@/components/auth-forms";
import { ProfileForm } from "@/components/profile-form";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { load, userApi } from "@/lib/api/server";
import { dateTime } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "Profile" };

export default async function AccountPage() {
  const me = await load((await userApi()).auth.me());
  const tz = await viewerZone();
  if (!me.ok) return <ApiErrorPanel page error={me.error} title="We could not load your profile" />;
  return (
    <div className="mx-auto max-w-md space-y-6">
      <Card>
        <CardHeader>
          <CardTitle as="h1" className="text-2xl">
            Your profile
          </CardTitle>
          <CardDescription>
            {/* The role only when it is more than a buyer's ("user" is the API's word, nobody's title). */}
            {me.data.email}
            {me.data.role === "organizer" ? " · Organizer" : me.data.role === "admin" ? " · Admin" : ""} · member since{" "}
            {dateTime(me.data.created_at, { zone: tz })}
          </CardDescription>
        </CardHeader>
        <CardContent>
          <ProfileForm fullName={me.data.full_name} />
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle as="h2" className="text-xl">
            Password
          </CardTitle>
          <CardDescription>Changing it signs out every other device.</CardDescription>
        </CardHeader>
        <CardContent>
          <ChangePasswordForm />
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle as="h2" className="text-xl">
            Delete account
          </CardTitle>
          <CardDescription>
            Not possible while you have unpaid reservations (pay or cancel them first), nor for organizers and admins (an admin first makes the
            account a user&apos;s).
          </CardDescription>
        </CardHeader>
        <CardContent>
          <DeleteAccountForm />
        </CardContent>
      </Card>
    </div>
  );
}
