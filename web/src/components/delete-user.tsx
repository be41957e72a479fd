"use client";

/**
 * An admin deletes a user's account for them (DELETE /admin/users/{id}): the
 * erasure someone who can no longer sign in asks support for. The dialog
 * says what goes and what stays before the admin confirms; the API refuses
 * organizers and admins (make them a user first) and accounts holding an
 * unpaid booking, and the dialog shows its reason.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";

import { ActionStatus } from "@/components/action-status";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { useApiAction } from "@/hooks/use-api-action";
import { browserApi } from "@/lib/api/browser";

export function DeleteUser({ userId, email }: { userId: string; email: string }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const action = useApiAction();

  async function confirm() {
    const res = await action.run(() => browserApi.admin.deleteUser(userId));
    if (res) {
      setOpen(false);
      router.refresh();
    }
  }

  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button variant="outline" size="sm" data-testid="delete-user">
          Delete
        </Button>
      </DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Delete the account of {email}?</DialogTitle>
          <DialogDescription>
            The account, its sessions, its mails and the personal data in the audit log are erased, and it leaves every
            waitlist. Its bookings, payments and tickets stay, under an id that names nobody. This cannot be undone.
          </DialogDescription>
        </DialogHeader>
        <ActionStatus state={action} />
        <DialogFooter>
          <Button variant="outline" onClick={() => setOpen(false)}>
            Keep it
          </Button>
          <Button variant="destructive" onClick={confirm} disabled={action.running} data-testid="confirm-delete-user">
            Delete the account
          </Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
