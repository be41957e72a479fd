/**
 * Server-side settings of the web app, read from the environment at run time
 * (not inlined at build time, so one image serves every environment).
 *
 * - RUSH_API_URL: the edge the app's server talks to (default
 *   http://127.0.0.1:8080); the browser never talks to it directly except for
 *   what the queue client (lib/queue) may be told to.
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
