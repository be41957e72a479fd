"use client";

/**
 * The door's camera: the device's back camera in a <video>, a frame every
 * FRAME_EVERY_MS drawn on a canvas and decoded (lib/door/camera.ts: the
 * browser's BarcodeDetector, else jsQR loaded on demand), each new code
 * handed to onCode, the same path as a typed code. Mounted while the door's
 * camera is on: unmounting it (the camera turned off, the door closed, the
 * page left) stops the camera's tracks.
 *
 * Browsers offer the camera to secure contexts only: a page served over
 * HTTPS, or from localhost.
 */
import { useEffect, useEffectEvent, useRef, useState } from "react";

import { type QrDecoder, RepeatFilter, cameraWords, qrDecoder, stopStream } from "@/lib/door/camera";

/** The pause between two decoded frames: ~8 a second, and the page stays responsive on a slow phone. */
const FRAME_EVERY_MS = 120;
/** Frames are scaled down to this longer side before decoding (a ticket's QR code held up fills a good part of it). */
const MAX_SIDE = 960;

type CameraState = { phase: "starting" } | { phase: "on"; decoder: QrDecoder["name"] } | { phase: "failed"; words: string };

export function CameraScan({ onCode }: { onCode: (code: string) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<CameraState>({ phase: "starting" });
  const deliver = useEffectEvent((code: string) => onCode(code));

  useEffect(() => {
    const el = video.current;
    let stopped = false;
    let stream: MediaStream | null = null;
    let timer = 0;
    const filter = new RepeatFilter();
    const fail = (err: unknown) => {
      stopStream(stream);
      if (!stopped) setState({ phase: "failed", words: cameraWords(err, window.isSecureContext) });
    };
    async function start() {
      if (!el) return;
      if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
        throw new DOMException("no camera offered to this page", "NotFoundError");
      }
      const [decoder, s] = await Promise.all([qrDecoder(), navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })]);
      stream = s;
      if (stopped) {
        stopStream(s);
        return;
      }
      s.getVideoTracks()[0]?.addEventListener("ended", () => fail(new DOMException("the camera stopped", "AbortError")));
      el.srcObject = s;
      await el.play();
      if (stopped) return;
      setState({ phase: "on", decoder: decoder.name });
      const canvas = document.createElement("canvas");
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      if (!ctx) throw new Error("no 2D canvas");
      const frame = async () => {
        if (stopped) return;
        if (el.readyState >= el.HAVE_CURRENT_DATA && el.videoWidth > 0) {
          const scale = Math.min(1, MAX_SIDE / Math.max(el.videoWidth, el.videoHeight));
          const w = Math.round(el.videoWidth * scale);
          const h = Math.round(el.videoHeight * scale);
          if (canvas.width !== w || canvas.height !== h) {
            canvas.width = w;
            canvas.height = h;
          }
          ctx.drawImage(el, 0, 0, w, h);
          const code = await decoder.decode(ctx.getImageData(0, 0, w, h)).catch(() => null);
          if (code && !stopped && filter.fresh(code, performance.now())) deliver(code);
        }
        if (!stopped) timer = window.setTimeout(() => void frame(), FRAME_EVERY_MS);
      };
      void frame();
    }
    start().catch(fail);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      stopStream(stream);
      if (el) el.srcObject = null;
    };
  }, []);

  return (
    <div className="space-y-2" data-testid="door-camera" data-phase={state.phase} data-decoder={state.phase === "on" ? state.decoder : undefined}>
      {state.phase === "failed" ? (
        <p role="alert" className="text-destructive text-sm font-medium" data-testid="door-camera-problem">
          {state.words}
        </p>
      ) : (
        <>
          <video ref={video} muted playsInline aria-label="Camera view" className="aspect-video max-h-64 w-full rounded-md bg-black object-contain" />
          <p className="text-muted-foreground text-sm">{state.phase === "on" ? "Hold a ticket's QR code in front of the camera." : "Starting the camera…"}</p>
        </>
      )}
    </div>
  );
}
