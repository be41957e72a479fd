import Link from "next/link";
import { CalendarDays, MapPin, Ticket, Users } from "lucide-react";

import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { dateTime, money, showSpan, venueZone } from "@/lib/format";
import { saleState } from "@/lib/sales";
import type { Event } from "@/lib/api/wire";

/**
 * One event in a list: title, venue, when its shows are, and where its sale
 * stands (the lowest price while it sells). The list is cached for a few
 * seconds (EventBrowser), so the sale's line may lag its opening by as much.
 */
export function EventCard({ event }: { event: Event }) {
  const zone = venueZone(event);
  const when = showSpan(event, { zone });
  return (
    <Link href={`/events/${event.slug}`} className="group" data-testid="event-card">
      <Card className="h-full transition-shadow group-hover:shadow-md">
        <CardHeader>
          <div className="flex flex-wrap gap-1">
            {event.category && <Badge variant="secondary">{event.category}</Badge>}
            {event.queue_enabled && (
              <Badge variant="outline">
                <Users className="size-3" /> waiting room
              </Badge>
            )}
          </div>
          <CardTitle as="h2" className="text-lg group-hover:underline">{event.title}</CardTitle>
          <CardDescription className="flex items-center gap-1">
            <MapPin className="size-3" /> {event.venue}
          </CardDescription>
        </CardHeader>
        <CardContent className="text-muted-foreground space-y-1 text-sm">
          <p className="flex items-center gap-1" data-testid="event-card-dates">
            <CalendarDays className="size-3" /> {when || "Dates to be announced"}
          </p>
          <p className="flex items-center gap-1" data-testid="event-card-sale">
            <Ticket className="size-3" /> {saleLine(event, zone)}
          </p>
        </CardContent>
      </Card>
    </Link>
  );
}

/** Where the event's sale stands, in a buyer's words. */
function saleLine(event: Event, zone: string): string {
  switch (saleState(event)) {
    case "before":
      return `Sale opens ${dateTime(event.sale_start_at, { zone })}`;
    case "ended":
      return "Sale ended";
    case "closed":
      return event.status === "cancelled" ? "Cancelled" : "Not on sale";
  }
  return event.price_from ? `On sale · from ${money(event.price_from)}` : "On sale";
}
