/**
 * Scanning with the device's camera at the door: the QR decoder, the filter
 * that turns a code seen in many frames into one scan, and the words for a
 * camera the page cannot use. The component (components/door/camera-scan.tsx)
 * draws the frames; everything here runs without a browser too.
 */

/** How long a code stays "already seen" after the last frame that showed it. */
export const REPEAT_MS = 3_000;

/**
 * One scan per code shown: the camera sees a ticket in every frame while it
 * is held up, so a code decoded again within `windowMs` of the last frame
 * that showed it is no new scan. The window restarts with each sighting, so
 * a ticket held in view for a minute is scanned once, and scanned again
 * (then "Already used") only once it was out of sight for `windowMs`. Each
 * code has its own window: a different code is a scan at once.
 */
export class RepeatFilter {
  private readonly seen = new Map<string, number>();

  constructor(private readonly windowMs = REPEAT_MS) {}

  /** Whether the code decoded at `now` (ms) is a new scan; it records the sighting either way. */
  fresh(code: string, now: number): boolean {
    for (const [c, at] of this.seen) if (now - at >= this.windowMs) this.seen.delete(c);
    const isNew = !this.seen.has(code);
    this.seen.set(code, now);
    return isNew;
  }
}

/** A frame to decode: the pixels of a canvas (RGBA), as getImageData gives them. */
export interface Frame {
  data: Uint8ClampedArray<ArrayBuffer>;
  width: number;
  height: number;
}

/** A QR decoder: the text of the QR code in a frame, or null. */
export interface QrDecoder {
  name: "BarcodeDetector" | "jsQR";
  decode(frame: Frame): Promise<string | null>;
}

/** The part of the Barcode Detection API used here (not in TypeScript's DOM types yet). */
export interface BarcodeDetectorClass {
  new (opts: { formats: string[] }): { detect(source: ImageData | Frame): Promise<{ rawValue: string }[]> };
  getSupportedFormats(): Promise<string[]>;
}

type JsQR = (data: Uint8ClampedArray, width: number, height: number, opts?: { inversionAttempts?: "dontInvert" | "attemptBoth" }) => { data: string } | null;

/** Loads jsQR on demand: only a door that turns its camera on, and has no native decoder, downloads it. */
async function importJsQR(): Promise<JsQR> {
  const m = await import("jsqr");
  return m.default;
}

/**
 * The decoder for this browser: its own BarcodeDetector when it has one that
 * reads QR codes (Chrome on Android, ChromeOS and macOS), else
 * jsQR (pure JavaScript, loaded with a dynamic import). `detector` and
 * `loadJsQR` are the browser's and the real loader unless a test sets them.
 */
export async function qrDecoder(
  detector: BarcodeDetectorClass | undefined = (globalThis as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector,
  loadJsQR: () => Promise<JsQR> = importJsQR,
): Promise<QrDecoder> {
  if (detector) {
    try {
      if ((await detector.getSupportedFormats()).includes("qr_code")) {
        const d = new detector({ formats: ["qr_code"] });
        return {
          name: "BarcodeDetector",
          async decode(frame) {
            const src = typeof ImageData === "function" && !(frame instanceof ImageData) ? new ImageData(frame.data, frame.width, frame.height) : frame;
            const found = await d.detect(src);
            return found.find((b) => b.rawValue)?.rawValue ?? null;
          },
        };
      }
    } catch {
      // A detector that cannot say what it reads (or is refused): jsQR reads.
    }
  }
  const jsQR = await loadJsQR();
  return {
    name: "jsQR",
    async decode(frame) {
      // Ticket codes are dark on light: trying the inverted image too would double the work per frame.
      return jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" })?.data ?? null;
    },
  };
}

/**
 * What the page says when the camera cannot be used, from getUserMedia's
 * error. `secure` is window.isSecureContext: outside one (a phone opening
 * the page over plain HTTP) browsers offer no camera at all.
 */
export function cameraWords(err: unknown, secure: boolean): string {
  if (!secure) {
    return "This page was not opened over HTTPS, so the browser offers no camera here: open it with https://, or use a scanner or paste.";
  }
  const name = err instanceof Error || (typeof err === "object" && err !== null && "name" in err) ? String((err as { name: unknown }).name) : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "This browser may not use the camera: allow it in the site settings, or use a scanner or paste.";
    case "NotFoundError":
    case "OverconstrainedError":
    case "NoCamera":
      return "This device has no camera the browser can use: use a scanner or paste.";
    case "NotReadableError":
    case "AbortError":
      return "The camera could not start (another app may be using it): close that app and turn the camera on again, or use a scanner or paste.";
    default:
      return "The camera could not start: use a scanner or paste.";
  }
}

/** Stops every track of a camera stream: the camera's light goes off. */
export function stopStream(stream: MediaStream | null | undefined): void {
  for (const t of stream?.getTracks() ?? []) t.stop();
}
