import type { Metadata } from "next";

import { EventForm } from "@/components/organizer/event-form";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { load, userApi } from "@/lib/api/server";
import { timeZones } from "@/lib/format";
import { viewerZone } from "@/lib/zone";

export const metadata: Metadata = { title: "New event" };

// Behind sign-in: rendered per request, the category list read fresh (not
// the shared catalog cache, which serves a stale list once after it expires:
// a category an admin just added was missing).
export const dynamic = "force-dynamic";

export default async function NewEventPage() {
  const cats = await load((await userApi()).catalog.categories());
  const zone = await viewerZone();
  return (
    <Card className="mx-auto max-w-3xl">
      <CardHeader>
        <CardTitle as="h1" className="text-2xl">
          New event
        </CardTitle>
        <CardDescription>It starts as a draft: add shows and zones, then publish it.</CardDescription>
      </CardHeader>
      <CardContent>
        <EventForm categories={cats.ok ? cats.data : []} zone={zone} zones={timeZones(zone)} />
      </CardContent>
    </Card>
  );
}
