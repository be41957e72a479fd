/**
 * An organizer creates, publishes and cancels an event: the admin gives the
 * organizer role in the admin pages, the organizer builds the event (show,
 * zone; a zone and a show added by mistake are removed) and publishes it, a
 * buyer pays for a ticket, the organizer watches the live dashboard and
 * releases more seats, then cancels the event after reading what happens to
 * buyers, reads how far the refunds are, and the buyer's booking is refunded
 * in full.
 */
import type { Page } from "@playwright/test";

import { call, register, unique } from "./harness/api";
import { readState } from "./harness/state";
import { expect, shot, signIn, test } from "./fixtures";

/** Adds a zone to the page's only show. */
async function addZone(page: Page, name: string, price: string, seats: string) {
  await page.getByLabel("Zone", { exact: true }).fill(name);
  await page.getByLabel("Price").fill(price);
  await page.getByLabel("Seats").fill(seats);
  await page.getByTestId("add-zone").click();
}

test("an organizer creates, publishes and cancels an event; the buyer is refunded", async ({ page, browser }) => {
  const s = readState();
  const org = await register("organizer");

  // The admin grants the role in the admin pages.
  await signIn(page, s.admin, "/admin/users");
  await page.getByLabel("Search users").fill(org.email);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator(`[data-testid=user-row][data-email="${org.email}"]`);
  await row.getByLabel("Role").selectOption("organizer");
  await row.getByRole("button", { name: "Set role" }).click();
  await expect(row.getByText(`${org.email} is now organizer.`)).toBeVisible();
  await shot(page, "admin-users");
  // The filters are labelled fields (a screen reader names each).
  await page.goto("/admin/audit");
  await page.getByLabel("Action", { exact: true }).fill("user.role_changed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=user\.role_changed/);
  await expect(page.getByTestId("audit-row").first()).toContainText("user.role_changed");
  // The change is said field by field, not as a line of JSON.
  await expect(page.getByTestId("audit-changes").first()).toHaveText("role: user → organizer");
  await shot(page, "admin-audit");
  // The admin adds a category; the organizer files the event under it below.
  // The new-event form is opened first, so a cached list would lack it.
  await page.goto("/organizer/events/new");
  await expect(page.getByLabel("Category")).toBeVisible();
  const category = unique("Opera");
  await page.goto("/admin/categories");
  await page.getByLabel("Category name").fill(category);
  await page.getByRole("button", { name: "Add category" }).click();
  await expect(page.getByRole("cell", { name: category, exact: true })).toBeVisible();
  await page.getByTestId("logout").click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();

  // The organizer (signed in again: the role is in the token) builds the event.
  await signIn(page, org, "/organizer");
  await page.goto("/organizer");
  await page.getByRole("link", { name: "New event" }).click();
  const title = unique("Midnight Opera");
  await page.getByLabel("Title").fill(title);
  await page.getByLabel("Description").fill("Three acts, one night.");
  await page.getByLabel("Venue", { exact: true }).fill("Teatro Nacional");
  // The venue's zone, which every page, ticket and mail writes its dates in
  // (this browser's is UTC).
  await page.getByLabel("Venue time zone").selectOption("Europe/Lisbon");
  await page.getByLabel("Category").selectOption({ label: category });
  await page.getByTestId("save-event").click();
  await expect(page.getByTestId("manage-title")).toHaveText(title);
  await expect(page.getByTestId("event-status")).toHaveText("Draft");
  await page.getByLabel(/New show on/).fill("2027-06-12T21:00");
  await page.getByLabel("Ends (optional)").fill("2027-06-12T23:30");
  await page.getByTestId("add-show").click();
  await expect(page.getByTestId("manage-show")).toHaveCount(1);
  await expect(page.getByTestId("manage-show")).toContainText("12 Jun 2027, 21:00 – 23:30 WEST");
  await addZone(page, "Stalls", "80.00", "40");
  await expect(page.getByTestId("manage-show").getByText("Stalls")).toBeVisible();
  // A zone and a show added by mistake go again before publishing.
  await addZone(page, "Stals", "8.00", "4000");
  await expect(page.getByTestId("manage-show").getByText("Stals", { exact: true })).toBeVisible();
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: "Remove zone Stals" }).click();
  await expect(page.getByTestId("manage-show").getByText("Stals", { exact: true })).toHaveCount(0);
  await page.getByLabel(/New show on/).fill("2027-06-13T21:00");
  await page.getByTestId("add-show").click();
  await expect(page.getByTestId("manage-show")).toHaveCount(2);
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: /Remove show 13 Jun 2027/ }).click();
  await expect(page.getByTestId("manage-show")).toHaveCount(1);
  await expect(page.getByTestId("manage-show").getByText("Stalls")).toBeVisible();
  await page.getByTestId("publish").click();
  await expect(page.getByTestId("event-status")).toHaveText("Published");
  await shot(page, "organizer-event");
  const eventId = page.url().split("/").pop()!;

  // A buyer pays for a ticket (in a browser of their own).
  const buyer = await register("fan");
  const ctx = await browser.newContext({ baseURL: s.webURL });
  const bp = await ctx.newPage();
  await signIn(bp, buyer);
  const ev = await call<{ slug: string; time_zone: string }>("GET", `/events/${eventId}`);
  expect(ev.time_zone).toBe("Europe/Lisbon");
  const shows = await call<{ show_date: string; ends_at: string }[]>("GET", `/events/${eventId}/shows`);
  expect(shows.map((x) => [x.show_date, x.ends_at])).toEqual([["2027-06-12T20:00:00Z", "2027-06-12T22:30:00Z"]]); // 21:00 in Lisbon's summer
  await bp.goto(`/events/${ev.slug}`);
  await expect(bp.getByTestId("show")).toContainText("12 Jun 2027, 21:00 – 23:30 WEST");
  await bp.getByTestId("buy").click();
  await bp.getByTestId("reserve").click();
  await bp.getByTestId("pay").click();
  await expect(bp.getByTestId("confirmed")).toBeVisible({ timeout: 60_000 });
  const bookingURL = bp.url().split("?")[0];

  // The live dashboard shows the sale.
  await page.goto(`/organizer/events/${eventId}/dashboard`);
  await expect(page.getByTestId("tickets-sold")).toHaveText("1", { timeout: 45_000 });
  await expect(page.getByTestId("sales-range")).toContainText("Since the sale opened");
  await expect(page.getByTestId("dashboard-zone")).toContainText("39");
  await expect(page.getByTestId("zone-sold")).toHaveText("1");
  await shot(page, "organizer-dashboard");

  // Released seats go on sale at once, and buyers see them.
  await page.goto(`/organizer/events/${eventId}`);
  await expect(page.getByTestId("on-sale-note")).toContainText("sells at once");
  // (A price typed with a decimal comma, as in Lisbon.)
  await addZone(page, "Gallery", "30,50", "20");
  await expect(page.getByTestId("manage-show").getByText("Gallery")).toBeVisible();
  await expect(page.getByTestId("manage-show").getByText("$30.50")).toBeVisible();
  await expect(async () => {
    await bp.goto(`/events/${ev.slug}`);
    await expect(bp.getByTestId("show")).toContainText("Gallery", { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  // A zone someone bought from stays.
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: "Remove zone Stalls" }).click();
  await expect(page.getByText("seats of this zone were reserved")).toBeVisible();
  await expect(page.getByTestId("manage-show").getByText("Stalls", { exact: true })).toBeVisible();

  // Cancel, after reading what happens to buyers.
  await page.reload();
  await page.getByTestId("cancel-event").click();
  await expect(page.getByTestId("cancel-consequences")).toContainText("refunded in full");
  await shot(page, "organizer-cancel");
  await page.getByLabel("Reason shown to buyers (optional)").fill("The hall is flooded.");
  await page.getByTestId("confirm-cancel-event").click();
  await expect(page.getByTestId("event-status")).toHaveText("Cancelled");
  // The reason stays on the organizer's page and the event's public page
  // (before, only the buyers' mails had it).
  await expect(page.getByTestId("event-cancelled")).toContainText("Your reason, as the buyers read it: “The hall is flooded.”");
  // How far the refunds are, in words (before: "being refunded in full", and no
  // count ever). The page reads it again while the refund is on its way.
  await expect(page.getByTestId("event-refunds")).toHaveText("The paid booking is refunded in full ($80.00).", { timeout: 60_000 });
  // (Before, its Sale card still said "On sale <start> – <end>".)
  await expect(page.getByTestId("sale-window")).toHaveText("No longer on sale: the event was cancelled.");
  // The dashboard says it too.
  await page.goto(`/organizer/events/${eventId}/dashboard`);
  await expect(page.getByTestId("dashboard-cancelled").getByTestId("event-refunds")).toHaveText("The paid booking is refunded in full ($80.00).");
  await page.goto("/organizer");
  await expect(page.locator(`[data-testid=organizer-event][data-title="${title}"]`)).toContainText("Cancelled");
  await expect(async () => {
    await bp.goto(`/events/${ev.slug}`); // the page is cached for a few seconds (ISR)
    await expect(bp.getByTestId("event-cancelled")).toContainText("The organizer said: “The hall is flooded.”", { timeout: 1000 });
  }).toPass({ timeout: 30_000 });

  // The buyer's booking is refunded in full.
  await expect(async () => {
    await bp.goto(bookingURL);
    await expect(bp.getByTestId("booking-status")).toHaveText("Refunded", { timeout: 1000 });
    await expect(bp.getByTestId("refunded")).toHaveText(/^\$([\d,]+\.\d{2}) of \$\1 paid$/, { timeout: 1000 });
  }).toPass({ timeout: 60_000 });
  await ctx.close();
});
