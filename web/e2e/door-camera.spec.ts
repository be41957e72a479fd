/**
 * The door page scans with the device's camera: phones and tablets at a
 * gate have no barcode scanner. Chromium's fake capture device plays a video
 * of a real ticket's QR code (the qr_png the gate serves for it, written as
 * Y4M by harness/camera.ts), so the whole path runs: getUserMedia, the
 * frames on a canvas, the QR decoder, the same scan as a typed code, the
 * gate's verdict.
 *
 * The browser of this test is launched here, with the config's launch
 * options and the fake camera's flags: the video file is made from a ticket
 * the test buys, before the browser starts.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import { y4mOfPNG } from "./harness/camera";
import { call, organizer, paidTicket, publishedEvent, register, unique } from "./harness/api";
import { expect, openDoor, shot, test } from "./fixtures";

test("/door may use the camera, other pages may not", async ({ request }) => {
  const door = await request.get("/door");
  expect(door.headers()["permissions-policy"]).toBe("camera=(self), microphone=(), geolocation=()");
  for (const p of ["/", "/login"]) {
    expect((await request.get(p)).headers()["permissions-policy"], p).toBe("camera=(), microphone=(), geolocation=()");
  }
});

test("a door scans a ticket's QR code with the camera, once while it is held up", async ({ playwright, launchOptions, baseURL }, info) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Camera Night"), price: "12.00" });
  const buyer = await register("camerabuyer");
  const [shown, typed] = await Promise.all([paidTicket(ev, buyer), paidTicket(ev, buyer)]);
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "Side door", event_ids: [ev.id] }, org.token);
  const { tickets } = await call<{ tickets: { code: string; qr_png: string }[] }>("GET", `/bookings/${shown.bookingId}/tickets`, undefined, buyer.token);
  expect(tickets[0].code).toBe(shown.code);
  const dir = info.outputPath();
  mkdirSync(dir, { recursive: true });
  const video = path.join(dir, "ticket.y4m");
  y4mOfPNG(Buffer.from(tickets[0].qr_png, "base64"), video);

  const browser = await playwright.chromium.launch({
    ...launchOptions,
    args: [...(launchOptions.args ?? []), "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    // A phone.
    const context = await browser.newContext({ baseURL, viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
    // Every camera stream the page gets, to see that its tracks stop.
    await context.addInitScript(() => {
      const w = window as unknown as { cameraStreams: MediaStream[] };
      w.cameraStreams = [];
      const md = navigator.mediaDevices;
      if (!md) return;
      const get = md.getUserMedia.bind(md);
      md.getUserMedia = async (c) => {
        const s = await get(c);
        w.cameraStreams.push(s);
        return s;
      };
    });
    const page = await context.newPage();
    const liveTracks = () =>
      page.evaluate(() => (window as unknown as { cameraStreams: MediaStream[] }).cameraStreams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === "live").length);

    // Another page may not use the camera, even where the browser would allow it.
    await page.goto("/");
    expect(await page.evaluate(() => navigator.mediaDevices.getUserMedia({ video: true }).then(() => "allowed", (e: Error) => e.name))).toBe("NotAllowedError");

    await page.goto("/door");
    await openDoor(page, dev.credential, ev.title, "Side door");
    const code = page.getByTestId("door-code");
    const history = page.getByTestId("door-history").locator("li");
    await page.getByTestId("door-camera-toggle").click();
    await expect(page.getByTestId("door-camera")).toHaveAttribute("data-phase", "on");
    // Debian's Chromium has no BarcodeDetector on Linux: jsQR decodes here.
    info.annotations.push({ type: "decoder", description: (await page.getByTestId("door-camera").getAttribute("data-decoder")) ?? "" });
    // Admitted by the camera, nothing typed.
    await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");
    await expect(page.getByTestId("door-words")).toHaveText("Valid ticket · Floor");
    await expect(code).toHaveValue("");
    await expect(code).toBeFocused();
    await shot(page, "door-camera");
    // The code stays in view: ~30 frames later, still one scan.
    await page.waitForTimeout(4_000);
    await expect(history).toHaveCount(1);
    await expect(page.getByTestId("door-headline")).toHaveText("ADMIT");

    // The input works beside the camera.
    await code.fill(typed.code);
    await code.press("Enter");
    await expect(history).toHaveCount(2);
    await expect(page.getByTestId("door-words")).toHaveText("Valid ticket · Floor");

    // Off: the camera's tracks stop. On again, the ticket shown again is a new scan: already used.
    await page.getByTestId("door-camera-toggle").click();
    await expect(page.getByTestId("door-camera")).toHaveCount(0);
    await expect.poll(liveTracks).toBe(0);
    await page.getByTestId("door-camera-toggle").click();
    await expect(page.getByTestId("door-words")).toContainText("Already used at Side door");
    await expect(history).toHaveCount(3);
    expect(await liveTracks()).toBe(1);

    // Closing the door stops the camera too.
    await page.getByRole("button", { name: "Change show or gate" }).click();
    await expect(page.getByTestId("door-open")).toBeVisible();
    await expect.poll(liveTracks).toBe(0);

    const stats = await call<{ checked_in: number }>("GET", `/shows/${ev.showId}/checkin-stats`, undefined, org.token);
    expect(stats.checked_in).toBe(2);
  } finally {
    await browser.close();
  }
});

test("a door on a device without a camera says so, and scans typed codes", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("No Camera Night") });
  const dev = await call<{ credential: string }>("POST", "/checkin/devices", { name: "Back door", event_ids: [ev.id] }, org.token);
  // This suite's Chromium has no camera (and no fake one): getUserMedia answers NotFoundError.
  await page.goto("/door");
  await openDoor(page, dev.credential, ev.title, "Back door");
  await page.getByTestId("door-camera-toggle").click();
  await expect(page.getByTestId("door-camera-problem")).toHaveText("This device has no camera the browser can use: use a scanner or paste.");
  await expect(page.getByTestId("door-code")).toBeFocused();
  await page.getByTestId("door-code").fill("BRT1:NOTATICKET");
  await page.getByTestId("door-code").press("Enter");
  await expect(page.getByTestId("door-words")).toHaveText("Not our ticket");
});
