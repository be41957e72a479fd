/**
 * An organizer's edits say what they do and undo nothing. Before:
 * - the waiting room switched on in the Sale card left the details form's
 *   box unticked, so saving the details (a new title) switched it off again,
 *   while the Sale card still said "on";
 * - a publish refused for a show without zones said only "the event is not
 *   ready to publish", and the API's reason read "1 show(s) have no seat zone";
 * - a zone (on sale too) was removed at the first click, without a question;
 * - a cancelled event's details said "The event is on sale: changes apply at once."
 */
import { call, organizer, publishedEvent, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("the waiting room switched on in the Sale card stays on when the details are saved", async ({ page }) => {
  const org = await organizer();
  const ev = await publishedEvent(org, { title: unique("Switch Night") });
  await signIn(page, org, `/organizer/events/${ev.id}`);
  await expect(page.getByTestId("queue-state")).toHaveText("off");
  await expect(page.getByTestId("queue-enabled")).not.toBeChecked();

  await page.getByTestId("toggle-queue").click();
  await expect(page.getByTestId("queue-state")).toHaveText("on");
  // The details' box follows the switch.
  await expect(page.getByTestId("queue-enabled")).toBeChecked();

  await page.getByLabel("Title").fill(`${ev.title} (renamed)`);
  await page.getByTestId("save-event").click();
  await expect(page.getByText("Saved.")).toBeVisible();
  await expect(page.getByTestId("manage-title")).toHaveText(`${ev.title} (renamed)`);
  await expect(page.getByTestId("queue-state")).toHaveText("on");
  expect((await call<{ queue_enabled: boolean }>("GET", `/events/${ev.id}`)).queue_enabled).toBe(true);

  // Switched off in the details, the Sale card says so too.
  await page.getByTestId("queue-enabled").uncheck();
  await page.getByTestId("save-event").click();
  await expect(page.getByTestId("queue-state")).toHaveText("off");
  expect((await call<{ queue_enabled: boolean }>("GET", `/events/${ev.id}`)).queue_enabled).toBe(false);
});

test("a publish refused says what is missing; removing a zone asks first; a cancelled event's details do not say it is on sale", async ({ page }) => {
  const org = await organizer();
  const title = unique("Two Nights");
  const ev = await call<{ id: string }>(
    "POST",
    "/events",
    {
      title,
      venue: "Hall 2, Porto",
      time_zone: "Europe/Lisbon",
      sale_start_at: new Date(Date.now() - 60_000).toISOString(),
      sale_end_at: new Date(Date.now() + 30 * 86400_000).toISOString(),
      max_per_user: 4,
    },
    org.token,
  );
  const first = await call<{ id: string }>("POST", `/events/${ev.id}/shows`, { show_date: new Date(Date.now() + 20 * 86400_000).toISOString() }, org.token);
  await call("POST", `/shows/${first.id}/zones`, { name: "Floor", price: "25.00", total_seats: 50 }, org.token);
  // The second night has no zone yet.
  await call("POST", `/events/${ev.id}/shows`, { show_date: new Date(Date.now() + 21 * 86400_000).toISOString() }, org.token);

  await signIn(page, org, `/organizer/events/${ev.id}`);
  await page.getByTestId("publish").click();
  await expect(page.getByTestId("action-error")).toHaveText("That cannot be done now: the event is not ready to publish: 1 show has no seat zone.");
  await expect(page.getByTestId("event-status")).toHaveText("Draft");

  // The second night gets its zone; the event goes on sale.
  const second = page.getByTestId("manage-show").nth(1);
  await second.getByLabel("Zone").fill("Balcony");
  await second.getByLabel("Price").fill("15");
  await second.getByLabel("Seats").fill("20");
  await second.getByTestId("add-zone").click();
  await expect(second.getByText("Balcony")).toBeVisible();
  await page.getByTestId("publish").click();
  await expect(page.getByTestId("event-status")).toHaveText("Published");

  // Removing a zone on sale asks first; "Cancel" keeps it.
  const asked: string[] = [];
  page.once("dialog", (d) => {
    asked.push(d.message());
    void d.dismiss();
  });
  await page.getByRole("button", { name: "Remove zone Balcony" }).click();
  await expect.poll(() => asked).toEqual(["Remove the zone Balcony?"]);
  await page.reload();
  await expect(second.getByText("Balcony")).toBeVisible();
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: "Remove zone Balcony" }).click();
  await expect(second.getByText("Balcony")).toHaveCount(0);

  await call("POST", `/events/${ev.id}/cancel`, { reason: "The hall flooded." }, org.token);
  await page.reload();
  await expect(page.getByTestId("event-status")).toHaveText("Cancelled");
  await expect(page.getByText("The event is on sale")).toHaveCount(0);
  await expect(page.getByTestId("details-closed")).toHaveText("The event was cancelled: its details no longer change.");
});
