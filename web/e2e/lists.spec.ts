/**
 * Lists past their last page (an old link, a list that shrank since): the
 * page says there is no such page and links to the last one. Before, it said
 * "No event is on sale yet" or "No booking yet" with events and bookings there.
 * An organizer's events page through each section (it stopped at 100 events
 * per status, with no pager). A search that finds nothing links to every event.
 */
import { call, organizer, publishedEvent, register, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("a page past the end of a list says so, not that the list is empty", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Last Page") });
  const buyer = await register("pager");
  await call("POST", "/bookings/reserve", { show_id: ev.showId, zone_id: ev.zoneId, quantity: 1 }, buyer.token, { "Idempotency-Key": unique("key") });

  // A query of its own: the shared catalog reads are cached a few seconds.
  await page.goto(`/search?q=${encodeURIComponent(ev.title)}&page=999`);
  await expect(page.getByTestId("past-last-page")).toHaveText(/There is no page 999: the list has 1 page\./);
  await expect(page.getByTestId("no-events")).toHaveCount(0);
  await page.getByRole("link", { name: "Go to page 1" }).click();
  await expect(page.getByTestId("event-card")).toHaveCount(1);

  // A search that finds nothing leads back to every event.
  await page.goto(`/search?q=${encodeURIComponent(unique("Nothing Like It"))}`);
  await expect(page.getByTestId("no-events")).toContainText("No event matches your search.");
  await page.getByRole("link", { name: "See all events" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("event-card").first()).toBeVisible();

  await signIn(page, buyer, "/bookings?page=7");
  await page.goto("/bookings?page=7");
  await expect(page.getByTestId("past-last-page")).toHaveText(/There is no page 7: the list has 1 page\./);
  await expect(page.getByTestId("no-bookings")).toHaveCount(0);
  await page.getByRole("link", { name: "Go to page 1" }).click();
  await expect(page.getByTestId("booking-row")).toHaveCount(1);
});

test("an organizer's events page in sections of their own", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Paged Night") });
  await signIn(page, org, "/organizer?published=3");
  await page.goto("/organizer?published=3");
  await expect(page.getByTestId("past-last-page")).toHaveText(/There is no page 3: the list has 1 page\./);
  await page.getByRole("link", { name: "Go to page 1" }).click();
  await expect(page).toHaveURL(/published=1/);
  await expect(page.getByRole("link", { name: ev.title })).toBeVisible();
});
