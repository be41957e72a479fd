import type { NextConfig } from "next";

/**
 * Next.js configuration of the Booking Rush web app.
 *
 * - `output: "standalone"`: `next build` leaves a self-contained server in
 *   .next/standalone, which the `web` image runs (web/Dockerfile).
 * - `expireTime`: ISR pages (the public event pages revalidate every few
 *   seconds) are sent with `s-maxage=<revalidate>, stale-while-revalidate=
 *   <expireTime - revalidate>`, so a CDN may serve a page a minute old at
 *   most while it fetches a fresh one.
 * - Security headers for every page; the JSON answers of /bff carry their own.
 *   No page may use the camera, the microphone or the location, except the
 *   door page (/door), which reads tickets' QR codes with the camera: of
 *   several entries that match a path and set the same header, Next sends
 *   the last one (e2e/door-camera.spec.ts checks both).
 * - The door page's service worker (public/door-sw.js) is sent with
 *   `Cache-Control: no-cache`, so a changed worker reaches the doors at their
 *   next visit. It is served from the root, so it may control /door without
 *   a Service-Worker-Allowed header.
 */
const nextConfig: NextConfig = {
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
  expireTime: 60,
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "X-Frame-Options", value: "DENY" },
          { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
          { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()" },
        ],
      },
      {
        source: "/door",
        headers: [{ key: "Permissions-Policy", value: "camera=(self), microphone=(), geolocation=()" }],
      },
      {
        source: "/door-sw.js",
        headers: [{ key: "Cache-Control", value: "no-cache" }],
      },
    ];
  },
};

export default nextConfig;
