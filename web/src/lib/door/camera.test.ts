import { readFileSync } from "node:fs";
import path from "node:path";

import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";

import { type BarcodeDetectorClass, type Frame, REPEAT_MS, RepeatFilter, cameraWords, qrDecoder } from "./camera";

/**
 * testdata/ticket-qr.png is what the gate serves as a ticket's qr_png: a code
 * signed by services/platform/eticket (Sign) and rendered by its QR (320 px,
 * level M, version 10), of a throw-away key.
 */
const TICKET_CODE =
  "BRT1:AEAADDGGWOPQQ2CL5SRWYTJET3SFT5BFETP6W7ODJOPKDXMO7RZVV7HN6HDTQDZQJZDYBOPMFR6ESX5DKKRZNT4U7NUUNMFBJE6F4NRCCJZGWLLZYBVS3B6QHM7Z3KFHTGFNVFSKXBCG433DCRATUXTYLYJ4EHMURZAY4QLIJAHWR5SWCIZBMXMYBJCRTAUGUCN7LYFD4TRHKE2GJ6235YAJWQGUEBI";

function ticketFrame(): Frame {
  const png = PNG.sync.read(readFileSync(path.join(__dirname, "testdata", "ticket-qr.png")));
  return { data: new Uint8ClampedArray(png.data), width: png.width, height: png.height };
}

/** A BarcodeDetector that reads the formats given and finds `found` in every frame. */
function detector(formats: string[], found: string): BarcodeDetectorClass {
  return class {
    static async getSupportedFormats() {
      return formats;
    }
    constructor(opts: { formats: string[] }) {
      expect(opts.formats).toEqual(["qr_code"]);
    }
    async detect() {
      return [{ rawValue: found }];
    }
  };
}

describe("the camera's repeat filter", () => {
  it("scans a code held in view once, and again only after it was out of sight for 3 s", () => {
    const f = new RepeatFilter();
    expect(f.fresh("A", 0)).toBe(true);
    // Seen in frame after frame for 10 s: no second scan.
    for (let t = 100; t <= 10_000; t += 100) expect(f.fresh("A", t)).toBe(false);
    // Out of sight for less than the window, then back: still the same showing.
    expect(f.fresh("A", 10_000 + REPEAT_MS - 1)).toBe(false);
    // Out of sight for the whole window: a new scan (the gate then says "Already used").
    expect(f.fresh("A", 10_000 + 2 * REPEAT_MS)).toBe(true);
  });
  it("scans a different code at once, each code with its own window", () => {
    const f = new RepeatFilter();
    expect(f.fresh("A", 0)).toBe(true);
    expect(f.fresh("B", 50)).toBe(true);
    expect(f.fresh("A", 100)).toBe(false);
    expect(f.fresh("B", 150)).toBe(false);
    expect(f.fresh("C", 200)).toBe(true);
  });
});

describe("the QR decoder", () => {
  it("is the browser's BarcodeDetector when it reads QR codes", async () => {
    let loaded = false;
    const d = await qrDecoder(detector(["ean_13", "qr_code"], "BRT1:NATIVE"), async () => {
      loaded = true;
      throw new Error("jsQR loaded");
    });
    expect(d.name).toBe("BarcodeDetector");
    expect(await d.decode(ticketFrame())).toBe("BRT1:NATIVE");
    expect(loaded).toBe(false);
  });
  it("is jsQR when the browser's detector reads no QR codes, cannot say, or is absent", async () => {
    const failing = class {
      static async getSupportedFormats(): Promise<string[]> {
        throw new Error("not supported");
      }
      async detect() {
        return [];
      }
    };
    for (const det of [detector(["ean_13"], "x"), failing, undefined]) {
      expect((await qrDecoder(det)).name).toBe("jsQR");
    }
  });
  it("reads a ticket's QR code as the gate renders it, with jsQR", async () => {
    const d = await qrDecoder(undefined);
    expect(await d.decode(ticketFrame())).toBe(TICKET_CODE);
    const blank: Frame = { data: new Uint8ClampedArray(64 * 64 * 4).fill(255), width: 64, height: 64 };
    expect(await d.decode(blank)).toBeNull();
  });
});

describe("the camera's words", () => {
  it("says why the camera cannot be used, and what to do instead", () => {
    expect(cameraWords(new DOMException("denied", "NotAllowedError"), true)).toBe(
      "This browser may not use the camera: allow it in the site settings, or use a scanner or paste.",
    );
    expect(cameraWords(new DOMException("none", "NotFoundError"), true)).toContain("no camera");
    expect(cameraWords(new DOMException("busy", "NotReadableError"), true)).toContain("another app");
    expect(cameraWords(new DOMException("denied", "NotAllowedError"), false)).toContain("HTTPS");
    expect(cameraWords("weird", true)).toBe("The camera could not start: use a scanner or paste.");
  });
});
