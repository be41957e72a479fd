/**
 * Payments and bookings as support reads them on the admin pages: the
 * API's enum names and provider codes in words, a booking's reference from
 * its id, and a reference as a person types it.
 */

/** Crockford's base32, as services/platform/bookingref writes references. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The reference of the booking with id bookingId ("BR-7KQD-M2XH-9TFA"), as
 * the API computes it (bookingref.Of): the 60 bits of the id's last 15 hex
 * digits in base32. Each group of four letters is five hex digits (20 bits),
 * so no 64-bit arithmetic is needed. "" for what is not a UUID.
 */
export function bookingReference(bookingId: string): string {
  const hex = bookingId.replaceAll("-", "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return "";
  const groups = [0, 5, 10].map((at) => {
    const bits = Number.parseInt(hex.slice(17 + at, 22 + at), 16);
    let s = "";
    for (let i = 3; i >= 0; i--) s += ALPHABET[(bits >> (i * 5)) & 31];
    return s;
  });
  return `BR-${groups.join("-")}`;
}

/**
 * A reference as support typed or pasted it, for the API: no spaces (a mail
 * client may break one across "BR-7KQD M2XH"), upper case. The API reads any
 * case and dashes anywhere, and says when it is not a reference.
 */
export function tidyReference(input: string): string {
  return input.replace(/\s+/g, "").toUpperCase().slice(0, 64);
}

const paymentStatusWords: Record<string, string> = {
  pending: "Awaiting payment",
  processing: "Being processed",
  succeeded: "Paid",
  failed: "Failed (nothing was charged)",
  refunded: "Refunded",
  partially_refunded: "Partly refunded",
  refund_failed: "Refund failed (we hold the money)",
};

/** A payment's status in words; an unknown one as it comes, without underscores. */
export function paymentStatusText(status: string): string {
  return paymentStatusWords[status] ?? status.replaceAll("_", " ");
}

const refundFailureWords: Record<string, string> = {
  expired_or_canceled_card: "The card was expired or closed.",
  lost_or_stolen_card: "The card was reported lost or stolen.",
  canceled: "The refund was cancelled at the payment provider.",
  unknown: "The bank refused it without saying why.",
};

/** Why a refund failed at the provider (Stripe's failure_reason), in words. */
export function refundFailureText(reason: string): string {
  if (!reason) return "No reason was given.";
  return refundFailureWords[reason] ?? `The provider said: ${reason.replaceAll("_", " ")}.`;
}

/** What support may do with a payment on the booking's page. */
export function paymentActions(status: string): { refundInFull: boolean; retry: boolean; recordTransfer: boolean } {
  return {
    // A payment refunded in part under the policy gets the rest of its price.
    refundInFull: status === "succeeded" || status === "partially_refunded",
    retry: status === "refund_failed",
    recordTransfer: status === "refund_failed",
  };
}

/**
 * What became of a payment after support's refund, retry or record, in
 * words: the payment as the API answered it.
 */
export function refundOutcome(
  p: { status: string; amount: string; refunded_amount: string; refund_failure_reason: string },
  money: (amount: string) => string,
): string {
  switch (p.status) {
    case "refunded":
      return `Refunded: ${money(p.refunded_amount)} goes back to the buyer. The buyer is mailed.`;
    case "partially_refunded":
      return `Refunded ${money(p.refunded_amount)} of ${money(p.amount)}. The buyer is mailed.`;
    case "refund_failed":
      return `The refund failed again. ${refundFailureText(p.refund_failure_reason)}`;
    default:
      return `The payment is now: ${paymentStatusText(p.status).toLowerCase()}.`;
  }
}
