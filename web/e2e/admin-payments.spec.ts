/**
 * Support's money page (/admin/payments): a buyer falls ill two days before
 * the show (the refund policy gives nothing back) and writes to support with
 * their booking's reference. The admin finds the booking by that reference,
 * typed as the buyer wrote it, sees whom to write to (the buyer's name and
 * e-mail address), refunds it in full with a reason, and sees the booking and
 * its payment refunded; the buyer's booking says support ended it. A
 * reference that is not one is refused in words. Refunds that failed at the
 * buyers' banks are listed with why and with each buyer to reach (or that the
 * account was deleted), and settled from the list: one sent again to the
 * card, one recorded as paid back by bank transfer. The buyer of a refund
 * that failed reads on their booking what is still owed them.
 */
import { type Account, adminToken, call, failRefund, newAdmin, organizer, paidTicket, publishedEvent, register, type ReadyEvent } from "./harness/api";
import { expect, shot, signIn, test } from "./fixtures";

test("an admin finds a paid booking by its reference and refunds it in full", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { daysAhead: 2, price: "49.90" });
  const buyer = await register("ill");
  const { bookingId } = await paidTicket(ev, buyer);
  const { reference } = await call<{ reference: string }>("GET", `/bookings/${bookingId}`, undefined, buyer.token);
  const admin = await newAdmin();

  await signIn(page, admin, "/admin/users");
  await page.getByRole("link", { name: "Payments" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Payments" })).toBeVisible();
  await expect(page.locator("h1")).toHaveCount(1);
  await expect(page.getByRole("heading", { name: "Refunds that failed" })).toBeVisible();

  // Not a reference: said in words, no code or enum on screen.
  await page.getByLabel("Booking reference").fill("BR-1234");
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page.getByTestId("booking-reference-invalid")).toContainText("must be a booking reference");
  await expect(page.locator("body")).not.toContainText("VALIDATION_ERROR");

  // As the buyer wrote it: lower case, no dashes.
  await page.getByLabel("Booking reference").fill(reference.replaceAll("-", "").toLowerCase());
  await page.getByRole("button", { name: "Find" }).click();
  const found = page.getByTestId("found-booking");
  await expect(found).toContainText(reference);
  await expect(found).toContainText(ev.title);
  await expect(page.getByTestId("found-booking-status")).toHaveText("Confirmed");
  const contact = found.getByTestId("buyer-contact");
  await expect(contact).toContainText(buyer.name);
  await expect(contact).toContainText(buyer.id);
  await expect(contact.getByRole("link", { name: buyer.email })).toHaveAttribute("href", `mailto:${buyer.email}`);
  const row = page.getByTestId("booking-payment-row");
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId("payment-status")).toHaveText("Paid");
  await shot(page, "admin-payments");

  await row.getByTestId("refund-in-full").click();
  const dialog = page.getByTestId("refund-in-full-dialog");
  await expect(dialog).toContainText("whatever the refund policy would give");
  await expect(dialog).toContainText("The booking is cancelled");
  await dialog.getByLabel(/Reason/).fill("ill with a fever two days before the show; doctor's note sent");
  await dialog.getByTestId("confirm-refund-in-full").click();
  await expect(dialog.getByTestId("action-outcome")).toContainText(/Refunded: \$49\.90 goes back to the buyer/);
  await dialog.getByRole("button", { name: "Done" }).click();

  await expect(page.getByTestId("found-booking-status")).toHaveText("Refunded");
  await expect(found).toContainText("support refunded it in full");
  await expect(row.getByTestId("payment-status")).toHaveText("Refunded");
  await expect(row.getByTestId("payment-refunded")).toHaveText("$49.90");
  await expect(row.getByTestId("refund-in-full")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(/refund_failed|partially_refunded|REFUND_CAUSE/);

  const after = await call<{ status: string; cancel_cause: string }>("GET", `/bookings/${bookingId}`, undefined, buyer.token);
  expect(after).toMatchObject({ status: "refunded", cancel_cause: "support" });
});

interface Paid {
  id: string;
  booking_id: string;
  status: string;
  provider_reference: string;
  refunded_amount: string;
}

/** A buyer's paid booking cancelled for a full refund, whose refund then failed at the bank: its payment. */
async function failedRefund(ev: ReadyEvent, buyer: Account, reason: string): Promise<{ reference: string; payment: Paid }> {
  const { bookingId } = await paidTicket(ev, buyer);
  const { reference } = await call<{ reference: string }>("GET", `/bookings/${bookingId}`, undefined, buyer.token);
  await call("POST", `/bookings/${bookingId}/cancel`, {}, buyer.token);
  const [payment] = await call<Paid[]>("GET", `/admin/payments?booking_id=${bookingId}`, undefined, await adminToken());
  expect(payment.status).toBe("refunded");
  await failRefund(payment, reason);
  await expect.poll(async () => (await call<Paid>("GET", `/payments/${payment.id}`, undefined, buyer.token)).status).toBe("refund_failed");
  return { reference, payment };
}

test("a buyer whose refund failed at their bank reads on their booking what is still owed", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { daysAhead: 30, price: "49.90" });
  const buyer = await register("returned");
  const { payment } = await failedRefund(ev, buyer, "expired_or_canceled_card");
  await signIn(page, buyer, `/bookings/${payment.booking_id}`);
  await expect(page.getByTestId("refunded")).toHaveText("$0.00 of $49.90 paid");
  await expect(page.getByTestId("refund-owed")).toContainText("$49.90 could not be returned to your card: our support team will pay it back");
});

test("an admin settles refunds that failed: one sent again, one paid by bank transfer", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { daysAhead: 30, price: "49.90" });
  const closedBuyer = await register("closed");
  const closed = await failedRefund(ev, closedBuyer, "expired_or_canceled_card");
  const stolenBuyer = await register("stolen");
  const stolen = await failedRefund(ev, stolenBuyer, "lost_or_stolen_card");
  // The buyer of the stolen card has since deleted their account.
  await call("POST", "/auth/delete-account", { password: stolenBuyer.password }, stolenBuyer.token);
  const admin = await newAdmin();

  await signIn(page, admin, "/admin/payments");
  const closedRow = page.locator(`[data-testid=failed-refund-row][data-payment="${closed.payment.id}"]`);
  const stolenRow = page.locator(`[data-testid=failed-refund-row][data-payment="${stolen.payment.id}"]`);
  await expect(closedRow).toContainText("The card was expired or closed.");
  await expect(closedRow).toContainText("$49.90");
  await expect(closedRow.getByRole("link", { name: closed.reference })).toBeVisible();
  await expect(closedRow.getByTestId("buyer-contact")).toContainText(closedBuyer.name);
  await expect(closedRow.getByRole("link", { name: closedBuyer.email })).toHaveAttribute("href", `mailto:${closedBuyer.email}`);
  await expect(stolenRow).toContainText("The card was reported lost or stolen.");
  await expect(stolenRow.getByTestId("buyer-contact")).toContainText("Account deleted");
  await expect(stolenRow).not.toContainText(stolenBuyer.email);
  await expect(page.locator("body")).not.toContainText(/expired_or_canceled_card|lost_or_stolen_card|refund_failed/);

  // The buyer of the closed card has a new one: send the refund again.
  await closedRow.getByTestId("retry-refund").click();
  const retry = page.getByTestId("retry-refund-dialog");
  await expect(retry).toContainText("$49.90 is sent again to the card the buyer paid with");
  await retry.getByTestId("confirm-retry-refund").click();
  await expect(retry.getByTestId("action-outcome")).toContainText(/Refunded: \$49\.90 goes back to the buyer/);
  await retry.getByRole("button", { name: "Done" }).click();
  await expect(closedRow).toHaveCount(0);

  // The other was paid back by bank transfer: the reference is required.
  await stolenRow.getByTestId("record-transfer").click();
  const transfer = page.getByTestId("record-transfer-dialog");
  await transfer.getByLabel("Note (optional)").fill("paid to the IBAN the buyer gave on the phone");
  await transfer.getByTestId("confirm-record-transfer").click();
  await expect(transfer.getByTestId("action-outcome")).toHaveCount(0);
  await transfer.getByLabel("Transfer reference").fill("SEPA-2026-1207-0042");
  await transfer.getByTestId("confirm-record-transfer").click();
  await expect(transfer.getByTestId("action-outcome")).toContainText("counts as paid back by bank transfer SEPA-2026-1207-0042");
  await transfer.getByRole("button", { name: "Done" }).click();
  await expect(stolenRow).toHaveCount(0);

  // Found by its reference, the settled payment offers nothing more.
  await page.getByLabel("Booking reference").fill(stolen.reference);
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page.getByTestId("found-booking").getByTestId("buyer-contact")).toContainText("Account deleted");
  const row = page.getByTestId("booking-payment-row");
  await expect(row.getByTestId("payment-status")).toHaveText("Refunded");
  await expect(row.getByRole("button")).toHaveCount(0);
});
