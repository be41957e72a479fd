/**
 * A camera for Chromium's fake capture device: a Y4M video
 * (--use-file-for-fake-video-capture) that shows a ticket's QR code, as the
 * gate serves it (the ticket's qr_png), held still in front of the camera.
 */
import { writeFileSync } from "node:fs";

import { PNG } from "pngjs";

/**
 * Writes to file a Y4M video of `frames` frames at 10 a second, each the
 * PNG's image (grey levels; every ticket QR is black on white) centred on a
 * white w x h picture. Chromium plays the file in a loop.
 */
export function y4mOfPNG(png: Buffer, file: string, opts: { width?: number; height?: number; frames?: number } = {}) {
  const w = opts.width ?? 640;
  const h = opts.height ?? 480;
  const img = PNG.sync.read(png);
  if (img.width > w || img.height > h) throw new Error(`a ${img.width}x${img.height} image does not fit a ${w}x${h} video`);
  const y = Buffer.alloc(w * h, 255);
  const left = Math.floor((w - img.width) / 2);
  const top = Math.floor((h - img.height) / 2);
  for (let r = 0; r < img.height; r++) {
    for (let c = 0; c < img.width; c++) {
      const i = (r * img.width + c) * 4;
      // BT.601 luma of the pixel, over white where it is transparent.
      const a = img.data[i + 3] / 255;
      const luma = 0.299 * img.data[i] + 0.587 * img.data[i + 1] + 0.114 * img.data[i + 2];
      y[(top + r) * w + left + c] = Math.round(luma * a + 255 * (1 - a));
    }
  }
  // 4:2:0: one U and one V sample per 2x2 pixels, 128 for grey.
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), y, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`);
  writeFileSync(file, Buffer.concat([header, ...Array.from({ length: opts.frames ?? 5 }, () => frame)]));
}
