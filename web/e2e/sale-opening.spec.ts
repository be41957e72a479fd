/**
 * A buyer on the event page before the sale opens: the page says when it
 * opens, and offers Buy at the opening, without a reload. Before, the page
 * (cached for everyone, rendered before the opening) said "Tickets are not
 * on sale right now." until the buyer reloaded it, at the very moment a
 * flash sale's crowd was waiting for. An event with a waiting room takes
 * buyers into its line before the opening (its random draw is for them).
 */
import { call, organizer, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

/** A published event whose sale opens in `ms`, one show 40 days ahead, one zone. */
async function openingIn(ms: number, title: string, queue = false): Promise<{ slug: string; opens: number }> {
  const org = await organizer();
  const opens = Date.now() + ms;
  const ev = await call<{ id: string; slug: string }>(
    "POST",
    "/events",
    {
      title: unique(title),
      venue: "Hall 3",
      time_zone: "Europe/Lisbon",
      sale_start_at: new Date(opens).toISOString(),
      sale_end_at: new Date(opens + 30 * 86400_000).toISOString(),
      queue_enabled: queue,
    },
    org.token,
  );
  const show = await call<{ id: string }>("POST", `/events/${ev.id}/shows`, { show_date: new Date(Date.now() + 40 * 86400_000).toISOString() }, org.token);
  await call("POST", `/shows/${show.id}/zones`, { name: "Floor", price: "15.00", total_seats: 20 }, org.token);
  await call("POST", `/events/${ev.id}/publish`, {}, org.token);
  return { slug: ev.slug, opens };
}

test("the event page offers Buy when the sale opens, without a reload", async ({ page }) => {
  const { slug, opens } = await openingIn(25_000, "Doors at Ten");
  const buyer = await register("early");
  await signIn(page, buyer, `/events/${slug}`);
  await expect(page.getByTestId("sale-closed")).toContainText("The sale opens");
  await expect(page.getByTestId("buy")).toHaveCount(0);
  const loads: string[] = [];
  page.on("framenavigated", (f) => f === page.mainFrame() && loads.push(f.url()));
  await expect(page.getByTestId("buy")).toBeVisible({ timeout: opens - Date.now() + 15_000 });
  expect(loads, "no reload").toEqual([]);
  await page.getByTestId("buy").click();
  await page.getByTestId("reserve").click();
  await expect(page).toHaveURL(/\/checkout\//);
});

test("an event with a waiting room takes buyers into its line before the sale opens", async ({ page }) => {
  const { slug, opens } = await openingIn(25_000, "Early Line", true);
  const buyer = await register("queuer");
  await signIn(page, buyer, `/events/${slug}`);
  // Before, the page said "Tickets are not on sale right now.": the line's
  // random draw at the opening was only for buyers with a hand-made address.
  await expect(page.getByTestId("pre-queue")).toContainText("The sale opens");
  await page.getByTestId("buy").click();
  await expect(page.getByTestId("waiting-room")).toContainText("The sale has not opened yet");
  // The estimate before the opening is the time to it, said so: not an
  // "expected wait" in a line whose places are not drawn yet.
  await expect(page.getByTestId("queue-wait")).toContainText(/^The sale opens in about \d+ seconds?\./);
  await expect(page).toHaveURL(/\/checkout\//, { timeout: opens - Date.now() + 30_000 });
});
