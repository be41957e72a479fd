"use client";

/**
 * The door page (/door): a venue's staff check tickets in on a laptop,
 * tablet or phone at the gate, as one of the organizer's check-in devices.
 *
 * Set up with the device's credential (kept in an HttpOnly cookie by
 * /bff/door/session), a show and a gate name; then one input, always
 * focused, takes each code (a keyboard-wedge scanner types it and Enter;
 * pasting works too) and the verdict shows big: ADMIT or REFUSE, and why.
 * "Scan with camera" reads QR codes with the device's camera instead
 * (camera-scan.tsx), through the same scan as a typed code.
 *
 * Online, the gate decides (POST /checkin). When it cannot answer (no
 * network, this app or the API down, busy or slower than ONLINE_WAIT_MS),
 * the door decides alone with the lists it fetched (lib/door/offline.ts:
 * the event's keys, the show's revocation list, the tickets it let in) and
 * queues the scan with its time and what it did; the queue is synced
 * (POST /checkin/sync) as soon as the gate answers again. The lists are
 * fetched when the door opens and every minute while online.
 *
 * The page keeps itself in this browser (lib/door/keep.ts, a service worker
 * for /door only): reloaded without network, it comes back as the device
 * last set up here, with its door open, and decides alone.
 */
import { Camera, CameraOff } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/native-select";
import { Textarea } from "@/components/ui/textarea";
import { ApiError, plainWords } from "@/lib/api/errors";
import { networkError } from "@/lib/api/transport";
import {
  type DoorShow,
  type Kept,
  type KeptLists,
  ONLINE_WAIT_MS,
  catalogApi,
  currentDevice,
  doorApi,
  endSession,
  keepAdmitted,
  keepDevice,
  keepGate,
  keepLists,
  keepQueue,
  keepShow,
  keepShows,
  keptDevice,
  keptGate,
  keptState,
  adoptScans,
  otherQueues,
  refusedCredential,
  startSession,
  storedQueue,
  unreachableGate,
} from "@/lib/door/client";
import { type Verdict, judgeOffline, verdict } from "@/lib/door/offline";
import { keepDoorPage, keepStorage } from "@/lib/door/keep";
import { type PendingScan, acknowledge, nextBatch, syncBody } from "@/lib/door/queue";
import type { DoorFacts } from "@/lib/door/session";
import { doorClock, verdictWords } from "@/lib/door/words";
import { browserZone, count, dateTime, showTime, venueZone } from "@/lib/format";
import { cn } from "@/lib/utils";

import { CameraScan } from "./camera-scan";

/** How often the lists are fetched again while online. */
const LISTS_EVERY_MS = 60_000;
/** How often a door offline, or with scans to send, tries the gate again. */
const RETRY_EVERY_MS = 10_000;
/** The longest code the gate takes (CheckInRequest.code): a longer one is nobody's ticket. */
const MAX_CODE = 512;

export function DoorApp() {
  const [facts, setFacts] = useState<DoorFacts | null | undefined>(undefined);
  const [offlineStart, setOfflineStart] = useState(false);
  // Whether this browser keeps the page (and its assets) for a reload without network.
  const [kept, setKept] = useState(false);
  // Whether the browser keeps this origin's storage (the offline scans) until the user clears it.
  const [storageKept, setStorageKept] = useState<boolean | null>(null);
  useEffect(() => {
    keepDoorPage().then(setKept, () => setKept(false));
    void keepStorage().then(setStorageKept);
  }, []);
  useEffect(() => {
    currentDevice()
      .then((f) => {
        keepDevice(f);
        setFacts(f);
      })
      .catch(() => {
        // Offline (or this app's server is down): the device last set up here.
        setOfflineStart(true);
        setFacts(keptDevice());
      });
  }, []);
  if (facts === undefined) {
    return (
      <div className="mx-auto max-w-xl space-y-2">
        <h1 className="text-2xl font-bold">Door check-in</h1>
        <p className="text-muted-foreground text-sm">Loading…</p>
      </div>
    );
  }
  if (!facts) {
    return (
      <SetupForm
        offline={offlineStart}
        onDone={(f) => {
          keepDevice(f);
          setFacts(f);
        }}
      />
    );
  }
  return (
    <Door
      key={facts.device_id}
      facts={facts}
      openedOffline={offlineStart}
      kept={kept}
      storageKept={storageKept}
      onEnded={() => {
        keepDevice(null);
        setFacts(null);
      }}
    />
  );
}

function setupError(err: unknown): string {
  const e = networkError(err);
  if (!(e instanceof ApiError)) return String(e);
  switch (e.details.reason) {
    case "not_device":
      return "This is not a check-in device's credential. Paste the whole text the organizer's devices page showed when the device was registered.";
    case "expired":
      return "This credential has expired. Ask the organizer to register the device again.";
    case "refused":
      return "The gate refuses this credential: the device was revoked. Ask the organizer for a new one.";
  }
  if (e.retryable) return "The gate cannot be reached. Set the device up while the network works.";
  return plainWords(e);
}

function SetupForm({ onDone, offline }: { onDone: (f: DoorFacts) => void; offline: boolean }) {
  const [error, setError] = useState<string | null>(offline ? "This page is offline: a device is set up while the network works." : null);
  const [running, setRunning] = useState(false);
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const credential = String(new FormData(e.currentTarget).get("credential") ?? "");
    setRunning(true);
    setError(null);
    try {
      const f = await startSession(credential);
      if (f) onDone(f);
    } catch (err) {
      setError(setupError(err));
    } finally {
      setRunning(false);
    }
  }
  return (
    <DoorCard
      description={
        <>
          Set this browser up as one of the organizer&apos;s check-in devices: paste the credential the devices page showed when the device was
          registered. It stays in this browser (not readable by the page) until it expires or you end the session.
        </>
      }
    >
      <form onSubmit={submit} className="space-y-4" aria-label="Set up the device">
        <div className="space-y-2">
          <Label htmlFor="door-credential">Device credential</Label>
          <Textarea
            id="door-credential"
            name="credential"
            required
            rows={5}
            className="font-mono text-xs"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "door-setup-error" : undefined}
          />
        </div>
        {error && (
          <p id="door-setup-error" role="alert" className="text-destructive text-sm" data-testid="door-setup-error">
            {error}
          </p>
        )}
        <Button type="submit" disabled={running} data-testid="door-setup">
          Set up this device
        </Button>
      </form>
    </DoorCard>
  );
}

/** The door's set-up steps: the page's title and what to do. */
function DoorCard({ description, children }: { description: React.ReactNode; children: React.ReactNode }) {
  return (
    <Card className="mx-auto max-w-xl">
      <CardHeader>
        <CardTitle as="h1" className="text-2xl">
          Door check-in
        </CardTitle>
        <CardDescription>{description}</CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">{children}</CardContent>
    </Card>
  );
}

/** A scan as the page shows it. */
interface Shown {
  id: string;
  at: string;
  verdict: Verdict;
  offline: boolean;
  /** A scan the page could not judge (the credential refused, a refusal of the call). */
  problem?: string;
}

/** A scan's time to the second: two verdicts in a row read as two scans. */
function scanClock(iso: string, zone: string): string {
  return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone }).format(new Date(iso));
}

function newId(): string {
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

async function loadShows(eventIds: string[]): Promise<DoorShow[]> {
  const out: { at: string; show: DoorShow }[] = [];
  for (const id of eventIds) {
    const [ev, shows] = await Promise.all([catalogApi.event(id), catalogApi.shows(id)]);
    const zone = venueZone(ev.data);
    for (const s of shows.data) {
      out.push({ at: s.show_date ?? "", show: { id: s.id, event_id: id, zone, label: `${ev.data.title} — ${showTime(s, { zone })}` } });
    }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at)).map((s) => s.show);
}

function Door({
  facts,
  openedOffline,
  kept: pageKept,
  storageKept,
  onEnded,
}: {
  facts: DoorFacts;
  openedOffline: boolean;
  kept: boolean;
  storageKept: boolean | null;
  onEnded: () => void;
}) {
  const dev = facts.device_id;
  // The door's state lives in a ref (async scans and syncs read and change
  // it); `render` shows its changes.
  // Rendered in the browser only (DoorApp knows the device after an effect).
  const [initial] = useState<Omit<Kept, "facts">>(() => keptState(dev));
  const kept = useRef(initial);
  const [, setTick] = useState(0);
  const render = useCallback(() => setTick((n) => n + 1), []);
  const [gate, setGate] = useState(keptGate);
  const [open, setOpen] = useState(() => Boolean(initial.showId && initial.lists?.showId === initial.showId));
  // Opened offline: no call is tried before the first scan is decided here.
  const [online, setOnlineState] = useState(!openedOffline);
  const onlineRef = useRef(!openedOffline);
  // Until the gate first answers, "Opened offline" says why the door decides alone.
  const [startedOffline, setStartedOffline] = useState(openedOffline);
  const [refused, setRefused] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [showsError, setShowsError] = useState<string | null>(null);
  const [history, setHistory] = useState<Shown[]>([]);
  const [endError, setEndError] = useState<string | null>(null);
  const [camera, setCamera] = useState(false);
  // Scans other devices of this browser left unsent (their credential refused).
  const [leftByOthers, setLeftByOthers] = useState(() => otherQueues(dev));
  const input = useRef<HTMLInputElement>(null);
  const syncing = useRef(false);
  const listsAt = useRef(0);

  const setOnline = useCallback((v: boolean) => {
    onlineRef.current = v;
    setOnlineState(v);
    if (v) setStartedOffline(false);
  }, []);

  // What this browser kept of the device, then the shows of its events.
  useEffect(() => {
    loadShows(facts.event_ids)
      .then((shows) => {
        kept.current.shows = shows;
        keepShows(dev, shows);
        setShowsError(null);
        render();
      })
      .catch((err) => {
        if (kept.current.shows.length === 0) setShowsError(unreachableGate(err) ? "The shows cannot be read now (no network?)." : plainWords(networkError(err) as ApiError));
      });
  }, [dev, facts.event_ids, render]);

  const gateRefused = useCallback(
    (err: unknown): boolean => {
      if (unreachableGate(err)) {
        setOnline(false);
        return true;
      }
      if (refusedCredential(err)) {
        setRefused(true);
        return true;
      }
      return false;
    },
    [setOnline],
  );

  /** Fetches the events' keys, the show's revocation list and its zones' names; true when the gate answered. */
  const refreshLists = useCallback(
    async (showId: string): Promise<boolean> => {
      try {
        const keys: KeptLists["keys"] = {};
        for (const ev of facts.event_ids) {
          const r = await doorApi.ticketKeys(ev);
          keys[ev] = r.data.keys.map((k) => ({ key_id: k.key_id, public_key: k.public_key }));
        }
        const rv = await doorApi.revokedTickets(showId);
        const zones: Record<string, string> = { ...(kept.current.lists?.showId === showId ? kept.current.lists.zones : {}) };
        try {
          for (const z of (await catalogApi.zones(showId)).data) zones[z.id] = z.name;
        } catch {
          // names only: the verdicts stand without them
        }
        const now = new Date().toISOString();
        const lists: KeptLists = {
          keys,
          keysFetchedAt: now,
          showId,
          revoked: rv.data.tickets.map((t) => t.ticket_id),
          revokedAsOf: rv.data.as_of ?? now,
          zones,
        };
        kept.current.lists = lists;
        keepLists(dev, lists);
        listsAt.current = Date.now();
        setOnline(true);
        setRefused(false);
        setProblem(null);
        render();
        return true;
      } catch (err) {
        if (!gateRefused(err)) setProblem(`The door's lists could not be fetched: ${plainWords(networkError(err) as ApiError)}`);
        return false;
      }
    },
    [dev, facts.event_ids, gateRefused, render, setOnline],
  );

  /** Sends the queued offline scans, 500 at a time, until none is left or the gate cannot take them. */
  const sync = useCallback(async () => {
    if (syncing.current) return;
    syncing.current = true;
    try {
      for (;;) {
        const queue = storedQueue(dev);
        kept.current.queue = queue;
        if (queue.length === 0) break;
        const batch = nextBatch(queue);
        const r = await doorApi.sync(syncBody(batch));
        const left = acknowledge(storedQueue(dev), batch, r.data.results.length);
        kept.current.queue = left;
        keepQueue(dev, left);
        setOnline(true);
        setRefused(false);
        render();
      }
    } catch (err) {
      if (!gateRefused(err)) setProblem(`The offline scans could not be sent: ${plainWords(networkError(err) as ApiError)}. They stay queued.`);
    } finally {
      syncing.current = false;
      render();
    }
  }, [dev, gateRefused, render, setOnline]);

  // Every RETRY_EVERY_MS: send what is queued; offline, try the gate again
  // (the lists); online, fetch the lists once they are a minute old. And at
  // once when the browser says the network is back.
  useEffect(() => {
    if (!open) return;
    const showId = kept.current.showId;
    const tick = async () => {
      if (kept.current.queue.length > 0 || storedQueue(dev).length > 0) await sync();
      if (!onlineRef.current || Date.now() - listsAt.current >= LISTS_EVERY_MS) await refreshLists(showId);
    };
    const back = async () => {
      await sync();
      await refreshLists(showId);
    };
    const onBack = () => void back();
    const gone = () => setOnline(false);
    const timer = window.setInterval(() => void tick(), RETRY_EVERY_MS);
    window.addEventListener("online", onBack);
    window.addEventListener("offline", gone);
    void tick();
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("online", onBack);
      window.removeEventListener("offline", gone);
    };
  }, [open, dev, refreshLists, setOnline, sync]);

  // The scan input keeps the focus: a scanner types into whatever has it.
  const refocus = useCallback(() => {
    window.setTimeout(() => {
      const a = document.activeElement;
      if (!a || a === document.body) input.current?.focus();
    }, 0);
  }, []);
  useEffect(() => {
    if (!open) return;
    input.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
      if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) input.current?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);

  async function openDoor(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const showId = String(f.get("show") ?? "");
    const g = String(f.get("gate") ?? "").trim();
    setGate(g);
    keepGate(g);
    kept.current.showId = showId;
    keepShow(dev, showId);
    if (await refreshLists(showId)) setOpen(true);
    else if (kept.current.lists?.showId === showId) setOpen(true); // offline: the lists fetched before
    else setProblem((p) => p ?? "The door's lists cannot be fetched now: a door opens while the network works.");
  }

  async function scan(raw: string) {
    const code = raw.trim();
    if (!code) return;
    const k = kept.current;
    const showId = k.showId;
    const at = new Date();
    let v: Verdict | null = null;
    let offline = false;
    if (code.length > MAX_CODE) {
      v = verdict("invalid", null, "not a ticket code");
    } else if (onlineRef.current) {
      try {
        // scanned_at names the scan: if this call reached the gate but its
        // answer came too late, the copy queued below is the same scan.
        v = (await doorApi.checkIn({ code, gate, show_id: showId, scanned_at: at.toISOString() }, { signal: AbortSignal.timeout(ONLINE_WAIT_MS) })).data;
        if (k.queue.length > 0) void sync();
      } catch (err) {
        if (unreachableGate(err)) {
          setOnline(false);
        } else {
          if (refusedCredential(err)) setRefused(true);
          const words = refusedCredential(err)
            ? "Not checked: the gate refuses this device's credential (revoked or expired)."
            : `Not checked: ${plainWords(networkError(err) as ApiError)}`;
          const shown: Shown = { id: newId(), at: at.toISOString(), verdict: verdict("invalid", null), offline: false, problem: words };
          setHistory((h) => [shown, ...h].slice(0, 10));
          return;
        }
      }
    }
    if (!v) {
      offline = true;
      v = await judgeOffline(
        code,
        {
          deviceId: dev,
          eventIds: facts.event_ids,
          keys: k.lists?.keys ?? {},
          showId,
          revoked: new Set(k.lists?.showId === showId ? k.lists.revoked : []),
          admitted: k.admitted[showId] ?? {},
          gate,
        },
        at,
      );
      const scanRecord: PendingScan = { id: newId(), code, gate, show_id: showId, scanned_at: at.toISOString(), door: v.outcome === "valid" ? "admitted" : "refused" };
      k.queue = [...storedQueue(dev), scanRecord];
      keepQueue(dev, k.queue);
    }
    // What this door knows of the ticket from now on, offline too.
    if (v.ticket_id && (v.outcome === "valid" || v.outcome === "already_used") && v.first_scan) {
      const admitted = { ...(k.admitted[showId] ?? {}) };
      admitted[v.ticket_id] ??= { scanned_at: v.first_scan.scanned_at ?? at.toISOString(), gate: v.first_scan.gate };
      k.admitted = { ...k.admitted, [showId]: admitted };
      keepAdmitted(dev, k.admitted);
    }
    setHistory((h) => [{ id: newId(), at: at.toISOString(), verdict: v, offline }, ...h].slice(0, 10));
    render();
  }

  /** Sends the scans other devices of this browser left, for this device's shows, as this device's. */
  function adoptLeft() {
    adoptScans(dev, new Set(kept.current.shows.map((s) => s.id)));
    kept.current.queue = storedQueue(dev);
    setLeftByOthers(otherQueues(dev));
    render();
    void sync();
  }

  async function end() {
    const n = storedQueue(dev).length;
    const msg =
      n > 0
        ? `${count(n, "scan")} made offline ${n === 1 ? "is" : "are"} not sent yet: ${n === 1 ? "it stays" : "they stay"} in this browser and ${n === 1 ? "is" : "are"} sent once this device's credential is entered here again. End this device's session?`
        : "End this device's session? Entering its credential again sets it up again.";
    if (!window.confirm(msg)) return;
    try {
      await endSession();
      onEnded();
    } catch (err) {
      setEndError(unreachableGate(err) ? "The session cannot be ended offline: try again when the network is back." : plainWords(networkError(err) as ApiError));
    }
  }

  const k = kept.current;
  const show = k.shows.find((s) => s.id === k.showId);
  const zone = show?.zone ?? "UTC";
  const now = new Date();
  const showName = (id: string) => k.shows.find((s) => s.id === id)?.label;
  const zoneName = (id: string) => (k.lists?.showId === k.showId ? k.lists.zones[id] : undefined);
  const pending = k.queue.length;
  const last = history[0];
  const myShows = new Set(k.shows.map((s) => s.id));
  const adoptable = leftByOthers.reduce((n, o) => n + o.scans.filter((s) => myShows.has(s.show_id)).length, 0);
  // A scan is the door's record of who came in: one another device made
  // offline and could not send (its credential was revoked, or expired
  // while its door was offline) would otherwise never reach the gate.
  const leftNotice =
    adoptable > 0 ? (
      <div className="space-y-2 rounded-md border border-amber-500 p-3 text-sm" data-testid="door-left">
        <p>
          <span data-testid="door-left-count">{adoptable}</span> {adoptable === 1 ? "scan" : "scans"} of this device&apos;s shows made offline by another device set
          up in this browser {adoptable === 1 ? "was" : "were"} never sent (its credential was refused, or its session ended). Send{" "}
          {adoptable === 1 ? "it" : "them"} as this device, so the gate knows who came in.
        </p>
        <Button size="sm" variant="outline" onClick={adoptLeft} data-testid="door-adopt">
          Send {adoptable === 1 ? "it" : "them"} as this device
        </Button>
      </div>
    ) : null;

  const endButton = (
    <div className="space-y-1">
      <Button variant="outline" size="sm" onClick={end} data-testid="door-end">
        End this device&apos;s session
      </Button>
      {endError && (
        <p role="alert" className="text-destructive text-sm">
          {endError}
        </p>
      )}
    </div>
  );

  if (!open) {
    return (
      <DoorCard
        description={
          <>
            This browser is a check-in device until {dateTime(facts.expires_at, { zone: show?.zone ?? browserZone() })}. Choose the show this door
            admits to, and name the gate.
          </>
        }
      >
        <form onSubmit={openDoor} className="space-y-4" aria-label="Open the door">
          <div className="space-y-2">
            <Label htmlFor="door-show">Show</Label>
            <NativeSelect id="door-show" name="show" required defaultValue={k.showId} key={k.shows.length} data-testid="door-show">
              <option value="" disabled>
                {k.shows.length ? "Choose a show" : "Loading the shows…"}
              </option>
              {k.shows.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.label}
                </option>
              ))}
            </NativeSelect>
          </div>
          <div className="space-y-2">
            <Label htmlFor="door-gate">Gate</Label>
            <Input id="door-gate" name="gate" defaultValue={gate} key={gate} maxLength={100} placeholder="North 2" autoComplete="off" />
          </div>
          {(showsError || problem || refused) && (
            <p role="alert" className="text-destructive text-sm" data-testid="door-problem">
              {refused ? "The gate refuses this device's credential: it was revoked or has expired. End the session and enter a new one." : (problem ?? showsError)}
            </p>
          )}
          <Button type="submit" data-testid="door-open">
            Open the door
          </Button>
        </form>
        {leftNotice}
        {endButton}
      </DoorCard>
    );
  }

  const words = last && !last.problem ? verdictWords(last.verdict, { zone, now, zoneName, showName }) : null;
  return (
    <div className="mx-auto max-w-2xl space-y-4">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-bold">Door check-in</h1>
        <Badge variant={online ? "success" : "warning"} data-testid="door-network">
          {online ? "Online" : "Offline"}
        </Badge>
        <Button
          variant="ghost"
          size="sm"
          className="ml-auto"
          onClick={() => {
            setCamera(false);
            setOpen(false);
          }}
        >
          Change show or gate
        </Button>
      </div>
      <p className="text-muted-foreground text-sm">
        {show?.label ?? "A show of this device's events"}
        {gate ? ` · gate ${gate}` : ""}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const el = input.current;
          if (!el) return;
          const code = el.value;
          el.value = "";
          void scan(code);
        }}
        aria-label="Scan a ticket"
      >
        <Label htmlFor="door-code" className="sr-only">
          Ticket code
        </Label>
        <Input
          id="door-code"
          ref={input}
          name="code"
          autoComplete="off"
          autoCapitalize="characters"
          spellCheck={false}
          placeholder="Scan or paste a code, then Enter"
          className="h-14 font-mono text-base"
          onBlur={refocus}
          data-testid="door-code"
        />
      </form>
      <div className="space-y-2">
        <Button
          variant="outline"
          size="sm"
          onClick={() => {
            setCamera((c) => !c);
            input.current?.focus();
          }}
          data-testid="door-camera-toggle"
        >
          {camera ? <CameraOff aria-hidden /> : <Camera aria-hidden />}
          {camera ? "Turn the camera off" : "Scan with camera"}
        </Button>
        {camera && <CameraScan onCode={(code) => void scan(code)} />}
      </div>
      <div
        role="status"
        aria-live="assertive"
        aria-atomic="true"
        data-testid="door-verdict"
        data-verdict={last ? (words?.admit ? "admit" : "refuse") : undefined}
        className={cn(
          "flex min-h-40 flex-col items-center justify-center rounded-xl border-4 p-6 text-center",
          !last && "text-muted-foreground border-dashed",
          last && (words?.admit ? "border-green-800 bg-green-700 text-white" : "border-red-900 bg-red-700 text-white"),
        )}
      >
        {/* Keyed by scan (the live region itself stays): each verdict fades in, so two alike read as two scans. */}
        <div key={last?.id} className="animate-in fade-in duration-300">
          {!last ? (
            <p>Waiting for the first scan.</p>
          ) : last.problem ? (
            <>
              <p className="text-5xl font-black tracking-wide sm:text-7xl">NOT CHECKED</p>
              <p className="mt-2 text-lg">{last.problem}</p>
            </>
          ) : (
            <>
              <p className="text-6xl font-black tracking-wide sm:text-8xl" data-testid="door-headline">
                {words!.headline}
              </p>
              <p className="mt-2 text-xl font-semibold sm:text-2xl" data-testid="door-words">
                {words!.words}
              </p>
              <p className="mt-1 text-sm font-medium">
                {scanClock(last.at, zone)}
                {last.offline && <span className="uppercase"> · offline · decided by this door</span>}
              </p>
            </>
          )}
        </div>
      </div>
      <div className="space-y-1 text-sm" data-testid="door-state" data-kept={pageKept} data-storage-kept={String(storageKept)}>
        {!online && (
          <p className="font-medium" data-testid="door-offline-note">
            {startedOffline
              ? "Opened offline: scans are decided by this door until the network is back, and sent once the gate answers again."
              : "Offline: this door decides with its own lists and sends its scans once the gate answers again."}{" "}
            {pageKept
              ? "This page is kept in this browser: reloaded without network, it comes back."
              : "Keep this tab open: this browser keeps no copy of the page, so reloaded without network it cannot come back."}
          </p>
        )}
        {refused && (
          <p role="alert" className="text-destructive font-medium">
            The gate refuses this device&apos;s credential: it was revoked or has expired. Scans are not checked, and queued scans are kept. End the session and enter
            a new credential.
          </p>
        )}
        {problem && (
          <p role="alert" className="text-destructive">
            {problem}
          </p>
        )}
        <p>
          <span data-testid="door-pending">{pending}</span> {pending === 1 ? "scan" : "scans"} made offline waiting to be sent
          {pending > 0 && refused ? " (kept until a credential of this device is accepted)" : ""}.
        </p>
        {pending > 0 && storageKept === false && (
          <p className="text-muted-foreground" data-testid="door-storage-note">
            This browser keeps them until they are sent, unless the device runs very low on space (it did not grant this site lasting storage): let them sync
            before the device is put away.
          </p>
        )}
        {k.lists && (
          <p className="text-muted-foreground" data-testid="door-lists-asof">
            Revocation list as of {doorClock(k.lists.revokedAsOf, zone, now)}; keys as of {doorClock(k.lists.keysFetchedAt, zone, now)}.
          </p>
        )}
      </div>
      {leftNotice}
      {history.length > 0 && (
        <section aria-labelledby="door-last" className="space-y-2">
          <h2 id="door-last" className="text-sm font-semibold">
            Last scans
          </h2>
          <ol className="divide-y rounded-md border text-sm" data-testid="door-history">
            {history.map((h) => {
              const w = h.problem ? null : verdictWords(h.verdict, { zone, now, zoneName, showName });
              return (
                <li key={h.id} className="flex flex-wrap items-center gap-2 px-3 py-2">
                  <span className="text-muted-foreground tabular-nums">{doorClock(h.at, zone, now)}</span>
                  <Badge variant={w?.admit ? "success" : "destructive"}>{w ? w.headline : "NOT CHECKED"}</Badge>
                  <span>{w ? w.words : h.problem}</span>
                  {h.offline && <span className="text-muted-foreground text-xs">offline</span>}
                </li>
              );
            })}
          </ol>
        </section>
      )}
      {endButton}
    </div>
  );
}
