/**
 * Headers the app's server passes on when it calls the edge for a browser.
 *
 * The edge rate-limits anonymous routes per client address and writes the
 * client's address and User-Agent into the audit log. Behind the web app every
 * call comes from the app's server, so it forwards the browser's User-Agent
 * and the X-Forwarded-For chain it received (from its ingress); the edge
 * believes that chain only from addresses in `edge.trusted-proxies`, which
 * must include the web app's pods (the Helm chart refuses a public host
 * without config.RUSH_EDGE_TRUSTED_PROXIES; it cannot know the pod network's
 * CIDR to set it itself). X-Request-ID ties
 * the edge's logs to the browser's call.
 */
export function forwardedHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  const ua = h.get("user-agent");
  if (ua) out["User-Agent"] = ua;
  const xff = h.get("x-forwarded-for");
  if (xff) out["X-Forwarded-For"] = xff;
  const rid = h.get("x-request-id");
  if (rid && /^[A-Za-z0-9._:-]{1,128}$/.test(rid)) out["X-Request-ID"] = rid;
  return out;
}
