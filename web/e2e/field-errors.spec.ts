/**
 * A form the API refuses says so next to the field. Before, every violation
 * of a 400 VALIDATION_ERROR was one sentence in the box above the button:
 * - the event form's sale closing before its opening now reads under "Sale
 *   closes", which is marked invalid for screen readers (aria-invalid, its
 *   description the message) and has the focus; what was typed stays;
 * - the show form's date in the past reads under "New show on"; a second
 *   show at the same instant (the catalog's 409 "show_exists", whose
 *   details name the field) reads there too, naming the time.
 */
import { organizer, unique } from "./harness/api";
import { expect, signIn, test } from "./fixtures";

test("the event form's sale window refused by the API reads under the sale closing, the form kept", async ({ page }) => {
  const org = await organizer();
  await signIn(page, org, "/organizer/events/new");
  const title = unique("Backwards Sale");
  await page.getByLabel("Title").fill(title);
  await page.getByLabel("Description").fill("Doors at eight.");
  await page.getByLabel("Venue", { exact: true }).fill("Sala 3, Braga");
  await page.getByLabel("Venue time zone").selectOption("Europe/Lisbon");
  await page.getByLabel("Tickets per person (1–10)").fill("6");
  const opens = page.getByLabel(/^Sale opens/);
  const closes = page.getByLabel(/^Sale closes/);
  await opens.fill("2031-05-10T20:00");
  await closes.fill("2031-05-01T20:00");
  await page.getByTestId("save-event").click();

  const words = "Sale closing must be after sale opening.";
  await expect(page.getByTestId("field-error-sale_end_at")).toHaveText(words);
  await expect(closes).toHaveAttribute("aria-invalid", "true");
  await expect(closes).toHaveAccessibleDescription(words);
  await expect(closes).toBeFocused();
  // Nothing else is marked, and nothing is left for the box above the button.
  await expect(page.getByLabel("Title")).not.toHaveAttribute("aria-invalid");
  await expect(opens).not.toHaveAttribute("aria-invalid");
  await expect(page.getByTestId("action-error")).toHaveCount(0);
  // What was typed is still there.
  await expect(page.getByLabel("Title")).toHaveValue(title);
  await expect(page.getByLabel("Description")).toHaveValue("Doors at eight.");
  await expect(page.getByLabel("Venue", { exact: true })).toHaveValue("Sala 3, Braga");
  await expect(page.getByLabel("Venue time zone")).toHaveValue("Europe/Lisbon");
  await expect(page.getByLabel("Tickets per person (1–10)")).toHaveValue("6");
  await expect(opens).toHaveValue("2031-05-10T20:00");
  await expect(closes).toHaveValue("2031-05-01T20:00");

  // Put right, the draft is made.
  await closes.fill("2031-05-20T20:00");
  await page.getByTestId("save-event").click();
  await expect(page.getByTestId("manage-title")).toHaveText(title);
  await expect(page.getByTestId("event-status")).toHaveText("Draft");

  // The show form: a date in the past reads under its field...
  const showOn = page.getByLabel(/New show on/);
  await showOn.fill("2020-06-12T21:00");
  await page.getByTestId("add-show").click();
  await expect(page.getByTestId("field-error-show_date")).toContainText("Show start must be");
  await expect(showOn).toHaveAttribute("aria-invalid", "true");
  await expect(showOn).toBeFocused();
  await expect(showOn).toHaveValue("2020-06-12T21:00");
  // ...and, put right, the show is added and the mark goes.
  await showOn.fill("2031-06-12T21:00");
  await page.getByTestId("add-show").click();
  await expect(page.getByTestId("manage-show")).toHaveCount(1);
  await expect(page.getByTestId("field-error-show_date")).toHaveCount(0);
  await expect(showOn).not.toHaveAttribute("aria-invalid");
  // A second show at that instant (a copy) is refused under the field too, naming the time.
  await showOn.fill("2031-06-12T21:00");
  await page.getByTestId("add-show").click();
  await expect(page.getByTestId("field-error-show_date")).toHaveText("The event already has a show at Thu, 12 Jun 2031, 21:00 WEST.");
  await expect(page.getByTestId("action-error")).toHaveCount(0);
  await expect(page.getByTestId("manage-show")).toHaveCount(1);
});
