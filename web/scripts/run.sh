#!/usr/bin/env bash
# `make run`: the whole mesh (bin/rush -target=all, the edge on RUSH_EDGE_ADDR,
# :8080 by default) and the web app (web/.next/standalone) on WEB_PORT (3000),
# started and stopped together. The first time, when the catalog has no
# published event, it adds demo events (web/scripts/seed-demo.mjs) so that
# http://localhost:3000 has something to sell.
#
# Dev defaults (override in the environment): the bootstrap admin
# RUSH_ADMIN_EMAIL=admin@bookingrush.local / RUSH_ADMIN_PASSWORD=admin-pass-1,
# and the payment simulator. Sessions use Secure cookies, which browsers accept
# on http://localhost; for another plain-HTTP host set WEB_COOKIE_SECURE=false.
set -euo pipefail
cd "$(dirname "$0")/../.."

export RUSH_ADMIN_EMAIL="${RUSH_ADMIN_EMAIL:-admin@bookingrush.local}"
export RUSH_ADMIN_PASSWORD="${RUSH_ADMIN_PASSWORD:-admin-pass-1}"
edge_addr="${RUSH_EDGE_ADDR:-:8080}"
edge_port="${edge_addr##*:}"
api="http://127.0.0.1:${edge_port}"
web_port="${WEB_PORT:-3000}"

pids=()
stop() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# Without an SMTP relay, mails are kept in the dev mailbox (:9100/dev/mail).
dev_mail=()
[ -n "${RUSH_SMTP_ADDR:-}" ] || dev_mail=(-smtp.dev-mailbox)
bin/rush -target=all "${dev_mail[@]}" &
pids+=($!)

for _ in $(seq 120); do
  curl -fs "$api/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "run: rush exited; see its output above" >&2; exit 1; }
  sleep 0.5
done
curl -fs "$api/readyz" >/dev/null || { echo "run: the edge at $api is not ready" >&2; exit 1; }

RUSH_API_URL="$api" node web/scripts/seed-demo.mjs || echo "run: demo events not added (see above); the app runs anyway" >&2

# rush serves its metrics on :9100, so the web app's go to :9101.
PORT="$web_port" HOSTNAME="${WEB_HOSTNAME:-0.0.0.0}" RUSH_API_URL="$api" RUSH_WEB_METRICS_ADDR="${RUSH_WEB_METRICS_ADDR-127.0.0.1:9101}" \
  node web/.next/standalone/server.js &
pids+=($!)
echo "run: web app on http://localhost:${web_port} (API $api; admin $RUSH_ADMIN_EMAIL)"

# Whichever stops first stops the other.
wait -n
