/**
 * The door page: a venue's staff check tickets in at the gate, as one of the
 * organizer's check-in devices (components/door/door-app.tsx). Nothing of it
 * is rendered on the server: the device, its lists and its offline scans
 * live in this browser.
 */
import type { Metadata } from "next";

import { DoorApp } from "@/components/door/door-app";

export const metadata: Metadata = { title: "Door check-in" };

export default function DoorPage() {
  return <DoorApp />;
}
