/**
 * The e-tickets of a confirmed booking: one QR code per seat, signed by the
 * event's key (the same codes as in the confirmation e-mail). A gate
 * verifies them offline; a revoked ticket (cancelled or refunded) shows as such,
 * without a QR code (the API sends it no code).
 */
import { AutoRefresh } from "@/components/auto-refresh";
import { Badge } from "@/components/ui/badge";
import type { Ticket } from "@/lib/api/wire";
import { dateTime, ticketStatusText } from "@/lib/format";

/** tz is the venue's zone: a ticket admits there, and is checked in there. */
export function BookingTickets({ tickets, confirmed, tz }: { tickets: Ticket[]; confirmed: boolean; tz: string }) {
  if (tickets.length === 0) {
    if (!confirmed) return null;
    // Tickets are issued from the booking's confirmation a moment after it
    // (the gate reads booking.events): the page looks again until they are.
    return (
      <p className="text-muted-foreground text-sm" data-testid="tickets-pending">
        <AutoRefresh everySeconds={2} />
        Your tickets are being issued; they appear here in a moment.
      </p>
    );
  }
  return (
    <ul className="grid gap-4 sm:grid-cols-2" data-testid="tickets">
      {tickets.map((t) => (
        <li key={t.id} className="rounded-lg border p-3 text-center">
          <p className="text-sm font-medium">
            Ticket {t.seat}{" "}
            <Badge variant={t.status === "valid" ? "secondary" : "destructive"} data-testid="ticket-status" data-status={t.status}>
              {ticketStatusText(t)}
            </Badge>
          </p>
          {t.status === "valid" && t.qr_png && (
            // A data URL of the API's PNG: nothing to optimise or fetch again.
            // eslint-disable-next-line @next/next/no-img-element
            <img src={`data:image/png;base64,${t.qr_png}`} alt={`QR code of ticket ${t.seat}`} width={200} height={200} className="mx-auto" />
          )}
          <p className="text-muted-foreground text-xs">
            {t.status === "revoked"
              ? "Void: its booking was cancelled or refunded"
              : t.checked_in_at
                ? `Checked in ${dateTime(t.checked_in_at, { zone: tz })}`
                : t.valid_until
                  ? `Valid until ${dateTime(t.valid_until, { zone: tz })}`
                  : ""}
          </p>
        </li>
      ))}
    </ul>
  );
}
