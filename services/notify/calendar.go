package notify

import (
	"strings"
	"time"

	"github.com/bookingrush/rush/services/platform/mail"
)

// calendarFile is a confirmation's show as an iCalendar event (RFC 5545)
// the buyer adds to a calendar in one click: the show's start (data
// "show_at", RFC 3339) and end (data "show_end_at", when the organizer gave
// one; without it the event has no length), the event's title, the venue
// and the booking.
// ok is false when the mail's data has no start.
func calendarFile(data map[string]string, now time.Time) (mail.Attachment, bool) {
	start, err := time.Parse(time.RFC3339, data["show_at"])
	if err != nil {
		return mail.Attachment{}, false
	}
	const stamp = "20060102T150405Z"
	var b strings.Builder
	line := func(name, value string) { b.WriteString(fold(name + ":" + value)) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Booking Rush//Tickets//EN")
	line("METHOD", "PUBLISH")
	line("BEGIN", "VEVENT")
	line("UID", data["booking_id"]+"@bookingrush")
	line("DTSTAMP", now.UTC().Format(stamp))
	line("DTSTART", start.UTC().Format(stamp))
	if end, err := time.Parse(time.RFC3339, data["show_end_at"]); err == nil && end.After(start) {
		line("DTEND", end.UTC().Format(stamp))
	}
	line("SUMMARY", icsText(data["event_title"]))
	if v := data["venue"]; v != "" {
		line("LOCATION", icsText(v))
	}
	desc := "Booking " + data["reference"]
	if q := data["quantity"]; q != "" {
		desc += ", " + count(q, "seat")
	}
	if z := data["zone"]; z != "" {
		desc += ", zone " + z
	}
	line("DESCRIPTION", icsText(desc+". Your tickets are in the confirmation e-mail and on your booking's page in the web app."))
	line("END", "VEVENT")
	line("END", "VCALENDAR")
	return mail.Attachment{Name: "show.ics", Type: "text/calendar; charset=utf-8; method=PUBLISH", Data: []byte(b.String())}, true
}

// icsText escapes a TEXT value (RFC 5545, 3.3.11).
func icsText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// fold ends a content line with CRLF, folding it into lines of at most 75
// octets (RFC 5545, 3.1) without splitting a UTF-8 character.
func fold(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		w := len(string(r))
		if n+w > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += w
	}
	b.WriteString("\r\n")
	return b.String()
}
