import type { Metadata } from "next";

import { SiteHeader } from "@/components/site-header";
import { ZoneCookie } from "@/components/zone-cookie";

import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Booking Rush", template: "%s · Booking Rush" },
  description: "Tickets for the events everyone wants, sold fairly.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" className="h-full">
      <body className="flex min-h-full flex-col">
        <ZoneCookie />
        <SiteHeader />
        <main className="mx-auto w-full max-w-6xl flex-1 px-4 py-8">{children}</main>
        <footer className="text-muted-foreground border-t px-4 py-6 text-center text-xs">
          Booking Rush · every seat sold once, every unpaid reservation released
        </footer>
      </body>
    </html>
  );
}
