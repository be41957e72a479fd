import Link from "next/link";
import { CalendarDays, MapPin, Users } from "lucide-react";

import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { dateTime, venueZone } from "@/lib/format";
import type { Event } from "@/lib/api/wire";

/** One event in a list: title, venue, sale window, waiting-room badge. */
export function EventCard({ event }: { event: Event }) {
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
        <CardContent className="text-muted-foreground flex items-center gap-1 text-sm">
          <CalendarDays className="size-3" /> On sale {dateTime(event.sale_start_at, { zone: venueZone(event) })}
        </CardContent>
      </Card>
    </Link>
  );
}
