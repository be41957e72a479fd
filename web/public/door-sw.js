/**
 * The door page's service worker (registered by src/lib/door/keep.ts with
 * scope /door: it controls the door page and no other page of the app).
 *
 * It keeps the page so that a tablet reloaded while the venue's network is
 * down comes back and scans (the page then decides alone with the lists it
 * kept in localStorage, as it does when the network goes while it is open):
 *
 * - a navigation to /door goes to the network first and its answer is kept;
 *   when the network fails (or the app answers 5xx, or nothing within 4 s),
 *   the page kept last answers;
 * - /_next/static/* (hashed names, never changed) requested by the page:
 *   from the cache, else fetched and kept;
 * - everything else (/bff, /api, the icon) is not touched: straight to the
 *   network, as without a service worker. Nothing of the API is kept here.
 *
 * On its first visit the page was loaded before this worker existed: it
 * posts the /_next/static URLs it loaded ({type: "keep", urls}) and the
 * worker fetches those it lacks, answering {kept} on the message's port.
 * The page posts them on every load: once all of them are kept, the assets
 * the page did not load and that were kept more than PRUNE_AFTER_MS ago
 * (an earlier deployment's; a chunk loaded on demand, such as the camera's
 * decoder, is kept again when next used online) are deleted, so the cache
 * does not grow with every deployment.
 * Installing it fetches /door; skipWaiting and clients.claim let that first
 * page be controlled without a second load. Changing VERSION drops the
 * older caches on activation.
 */
const VERSION = 1;
const CACHE = `door-v${VERSION}`;
const PAGE = "/door";
const STATIC = "/_next/static/";
/** How long a navigation waits for the network before the kept page answers. */
const PAGE_WAIT_MS = 4000;
/** How long an asset the page did not load stays kept. */
const PRUNE_AFTER_MS = 7 * 24 * 3600 * 1000;
/** The header of a kept asset that says when it was kept (ms). */
const KEPT_AT = "x-door-kept-at";

/** A copy of res to keep, marked with the time it was kept. */
function stamped(res) {
  const headers = new Headers(res.headers);
  headers.set(KEPT_AT, String(Date.now()));
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.add(new Request(PAGE, { cache: "no-cache" })))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("door-v") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(page(event));
  } else if (url.pathname.startsWith(STATIC)) {
    event.respondWith(asset(req));
  }
});

/** The door page: the network's answer (kept), else the page kept last. */
async function page(event) {
  const cache = await caches.open(CACHE);
  const fresh = fetch(event.request).then(async (res) => {
    if (res.ok && res.type === "basic" && !res.redirected) await cache.put(PAGE, res.clone());
    return res;
  });
  // The fetch goes on after a timeout, so its answer is still kept.
  event.waitUntil(fresh.catch(() => undefined));
  const kept = await cache.match(PAGE);
  if (!kept) return fresh;
  const late = new Promise((resolve) => setTimeout(() => resolve(kept), PAGE_WAIT_MS));
  return Promise.race([fresh.then((res) => (res.status >= 500 ? kept : res)), late]).catch(() => kept);
}

/** A hashed asset: the kept copy, else the network's (kept). */
async function asset(req) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(req, { ignoreVary: true });
  if (kept) return kept;
  const res = await fetch(req);
  if (res.ok && res.type === "basic") await cache.put(req, stamped(res.clone()));
  return res;
}

/** Fetches and keeps the assets of urls not kept yet; true when the page and all of them are kept. */
async function keep(urls) {
  const cache = await caches.open(CACHE);
  const wanted = urls.map((u) => new URL(u, self.location.origin)).filter((u) => u.origin === self.location.origin && u.pathname.startsWith(STATIC));
  const done = await Promise.all(
    wanted.map(async (u) => {
      if (await cache.match(u.href, { ignoreVary: true })) return true;
      try {
        const res = await fetch(u.href);
        if (!res.ok) return false;
        await cache.put(u.href, stamped(res));
        return true;
      } catch {
        return false;
      }
    }),
  );
  const kept = done.every(Boolean) && Boolean(await cache.match(PAGE));
  // Online only: offline, a chunk loaded on demand could not be fetched again.
  if (kept && wanted.length > 0 && self.navigator.onLine) await prune(cache, new Set(wanted.map((u) => u.origin + u.pathname + u.search)));
  return kept;
}

/** Deletes the kept assets not in loaded that were kept more than PRUNE_AFTER_MS ago (or before kept times were written). */
async function prune(cache, loaded) {
  const now = Date.now();
  for (const req of await cache.keys()) {
    const u = new URL(req.url);
    if (!u.pathname.startsWith(STATIC) || loaded.has(u.origin + u.pathname + u.search)) continue;
    const res = await cache.match(req, { ignoreVary: true });
    const at = Number(res?.headers.get(KEPT_AT) ?? 0);
    if (!(now - at < PRUNE_AFTER_MS)) await cache.delete(req, { ignoreVary: true });
  }
}

self.addEventListener("message", (event) => {
  const msg = event.data;
  if (!msg || msg.type !== "keep" || !Array.isArray(msg.urls)) return;
  const port = event.ports[0];
  event.waitUntil(
    keep(msg.urls.filter((u) => typeof u === "string")).then(
      (kept) => port?.postMessage({ kept }),
      () => port?.postMessage({ kept: false }),
    ),
  );
});
