/**
 * A buyer on the event page before the sale opens: the page says when it
 * opens, and offers Buy at the opening, without a reload. Before, the page
 * (cached for everyone, rendered before the opening) said "Tickets are not
 * on sale right now." until the buyer reloaded it, at the very moment a
 * flash sale's crowd was waiting for.
 */
import { call, organizer, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("the event page offers Buy when the sale opens, without a reload", async ({ page }) => {
  const org = await organizer();
  const opens = Date.now() + 25_000;
  const ev = await call<{ id: string; slug: string }>(
    "POST",
    "/events",
    {
      title: unique("Doors at Ten"),
      venue: "Hall 3",
      time_zone: "Europe/Lisbon",
      sale_start_at: new Date(opens).toISOString(),
      sale_end_at: new Date(opens + 30 * 86400_000).toISOString(),
    },
    org.token,
  );
  const show = await call<{ id: string }>("POST", `/events/${ev.id}/shows`, { show_date: new Date(Date.now() + 40 * 86400_000).toISOString() }, org.token);
  await call("POST", `/shows/${show.id}/zones`, { name: "Floor", price: "15.00", total_seats: 20 }, org.token);
  await call("POST", `/events/${ev.id}/publish`, {}, org.token);

  const buyer = await register("early");
  await signIn(page, buyer, `/events/${ev.slug}`);
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
