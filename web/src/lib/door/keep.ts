/**
 * Keeps the door page in this browser, so that it comes back when reloaded
 * without network: the service worker public/door-sw.js, registered with
 * scope /door (it controls the door page and no other page of the app),
 * keeps the page and its /_next/static assets; the API is never kept.
 *
 * The first visit's page was loaded before the worker existed: it tells the
 * worker the assets it loaded, and the worker fetches those it lacks, so one
 * online visit is enough.
 */
"use client";

/** Where the worker is served from (public/), and the pages it controls. */
export const DOOR_WORKER = "/door-sw.js";
export const DOOR_SCOPE = "/door";

/** The same-origin /_next/static URLs among a page's loaded resources (scripts, styles, fonts). */
export function loadedAssets(entries: readonly { name: string }[], origin: string): string[] {
  const out = new Set<string>();
  for (const e of entries) {
    let u: URL;
    try {
      u = new URL(e.name, origin);
    } catch {
      continue;
    }
    if (u.origin === origin && u.pathname.startsWith("/_next/static/")) out.add(u.origin + u.pathname + u.search);
  }
  return [...out];
}

/**
 * Registers the door's service worker and has it keep this page's assets;
 * true once the page and every asset it loaded are kept. False where the
 * browser offers no service worker (a page over plain HTTP, not localhost)
 * and under `next dev`, whose chunks change under the same names: there it
 * removes a worker an earlier production build left.
 */
export async function keepDoorPage(): Promise<boolean> {
  if (!("serviceWorker" in navigator)) return false;
  const sw = navigator.serviceWorker;
  if (process.env.NODE_ENV !== "production") {
    await (await sw.getRegistration(DOOR_SCOPE))?.unregister();
    return false;
  }
  try {
    await sw.register(DOOR_WORKER, { scope: DOOR_SCOPE });
  } catch {
    // Offline, an update check can fail: a worker already here still serves.
    if (!sw.controller) return false;
  }
  const worker = (await sw.ready).active;
  if (!worker) return false;
  const urls = loadedAssets(performance.getEntriesByType("resource"), location.origin);
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (e: MessageEvent<{ kept?: boolean }>) => resolve(Boolean(e.data?.kept));
    worker.postMessage({ type: "keep", urls }, [ch.port2]);
  });
}

/**
 * Asks the browser to keep this origin's storage, where the door's offline
 * scans wait in localStorage, until the user clears it: best-effort storage
 * may be cleared when the device runs low on space (and, in some browsers,
 * after days without a visit). True when it is kept, false when the browser
 * declined (it decides: an installed or often used site is granted), null
 * where it offers no such choice.
 */
export async function keepStorage(storage: Pick<StorageManager, "persist" | "persisted"> | undefined = globalThis.navigator?.storage): Promise<boolean | null> {
  if (!storage?.persist || !storage.persisted) return null;
  try {
    return (await storage.persisted()) || (await storage.persist());
  } catch {
    return null;
  }
}
