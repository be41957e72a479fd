/**
 * Hand-made addresses: a buy page whose show is another event's goes to the
 * event's page (it showed one event's title while reserving the other's
 * seats); so does one this event cannot sell as it is: a quantity above the
 * event's limit (the buyer met "at most 4" only after Reserve 5), or none,
 * or a zone the organizer removed since (all were "We could not find that
 * page", with no way back to the event),
 * and every page has an icon (the browser asked for /favicon.ico and got a
 * 404 on each page). A link to nothing says so and offers the way on.
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("a buy address this event cannot sell goes to the event's page; pages have an icon", async ({ page }) => {
  const org = await organizer();
  const a = await publishedEvent(org, { title: unique("Quiet Night") });
  const gone = await call<{ id: string }>("POST", `/shows/${a.showId}/zones`, { name: "Balcony", price: "10.00", total_seats: 5 }, org.token);
  await call("DELETE", `/zones/${gone.id}`, undefined, org.token);
  const b = await publishedEvent(org, { title: unique("Loud Night") });
  const buyer = await register("mixer");
  await signIn(page, buyer);

  await page.goto(`/events/${a.slug}/buy?show=${a.showId}&zone=${a.zoneId}&qty=1`);
  await expect(page.getByTestId("reserve")).toBeVisible();
  for (const query of [`show=${b.showId}&zone=${b.zoneId}&qty=1`, `show=${a.showId}&zone=${a.zoneId}&qty=5`, `show=${a.showId}&zone=${gone.id}&qty=1`, ""]) {
    await page.goto(`/events/${a.slug}/buy${query ? "?" : ""}${query}`);
    await expect(page, query).toHaveURL(new RegExp(`/events/${a.slug}$`));
    await expect(page.getByTestId("event-title")).toHaveText(a.title);
    await expect(page.getByTestId("reserve")).toHaveCount(0);
  }

  const href = await page.locator('link[rel="icon"]').first().getAttribute("href");
  expect(href).toBeTruthy();
  expect((await page.request.get(href!)).status()).toBe(200);
});

test("a link to nothing says so and offers the way on", async ({ page }) => {
  // Next's bare "404 | This page could not be found." had no way on but the logo.
  const res = await page.goto("/events/no-such-event-anywhere");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toContainText("We could not find that page");
  await page.getByRole("link", { name: "Find an event" }).click();
  await expect(page).toHaveURL(/\/$/);
});
