/**
 * Server-side settings of the web app, read from the environment at run time
 * (not inlined at build time, so one image serves every environment).
 *
 * - RUSH_API_URL: the edge the app's server talks to (default
 *   http://127.0.0.1:8080). The browser reaches it only through the app's
 *   /bff routes, except for the waiting room's public reads
 *   (/api/v1/queue/events and /lines on the same host: the Ingress sends them
 *   to the edge, or app/api/v1/queue passes them on where the app runs alone).
 * - WEB_COOKIE_SECURE: "false" drops the Secure attribute of the session
 *   cookies, for plain-HTTP hosts other than localhost (browsers accept Secure
 *   cookies on http://localhost). Default true.
 * - STRIPE_PUBLISHABLE_KEY: when set, checkout uses Stripe's Payment Element;
 *   else the payment simulator's methods (dev).
 */
import "server-only";

export const apiBase = (): string => (process.env.RUSH_API_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "") + "/api/v1";

export const cookieSecure = (): boolean => process.env.WEB_COOKIE_SECURE !== "false";

export const stripePublishableKey = (): string | null => process.env.STRIPE_PUBLISHABLE_KEY || null;
