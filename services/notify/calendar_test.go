package notify

import (
	"strings"
	"testing"
	"time"
)

func TestCalendarFile(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	data := map[string]string{
		"booking_id": "0193a0c2-0000-7000-8000-000000000001", "reference": "BR-AAAA-BBBB-CCCC", "show_at": "2027-01-04T12:00:00Z",
		"event_title": "Rush; the, night\\", "venue": "Coliseu dos Recreios, Rua das Portas de Santo Antão 96, 1150-269 Lisboa, Portugal — main hall",
		"quantity": "2", "zone": "Floor",
	}
	a, ok := calendarFile(data, now)
	if !ok || a.Name != "show.ics" || !strings.HasPrefix(a.Type, "text/calendar;") {
		t.Fatalf("%v %+v", ok, a)
	}
	ics := string(a.Data)
	for _, l := range strings.Split(strings.TrimSuffix(ics, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("bare line break in %q", l)
		}
	}
	unfolded := strings.ReplaceAll(ics, "\r\n ", "")
	for _, want := range []string{
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "METHOD:PUBLISH\r\n", "BEGIN:VEVENT\r\n",
		"UID:0193a0c2-0000-7000-8000-000000000001@bookingrush\r\n", "DTSTAMP:20261205T120000Z\r\n", "DTSTART:20270104T120000Z\r\n",
		`SUMMARY:Rush\; the\, night\\` + "\r\n",
		`LOCATION:Coliseu dos Recreios\, Rua das Portas de Santo Antão 96\, 1150-269 Lisboa\, Portugal — main hall` + "\r\n",
		`DESCRIPTION:Booking BR-AAAA-BBBB-CCCC\, 2 seats\, zone Floor.`, "END:VEVENT\r\nEND:VCALENDAR\r\n",
	} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("no %q in\n%s", want, ics)
		}
	}
	if strings.Contains(ics, "DTEND") {
		t.Errorf("an end the organizer did not give:\n%s", ics)
	}
	if _, ok := calendarFile(map[string]string{"booking_id": "x"}, now); ok {
		t.Error("a calendar file without the show's start")
	}
	// The show's end, when the organizer gave one, ends the calendar's event.
	data["show_end_at"] = "2027-01-04T15:30:00Z"
	a, _ = calendarFile(data, now)
	if !strings.Contains(string(a.Data), "DTSTART:20270104T120000Z\r\nDTEND:20270104T153000Z\r\n") {
		t.Errorf("no DTEND after DTSTART in\n%s", a.Data)
	}
}

func TestFoldKeepsCharactersWhole(t *testing.T) {
	s := "DESCRIPTION:" + strings.Repeat("é", 100)
	for _, l := range strings.Split(strings.TrimSuffix(fold(s), "\r\n"), "\r\n") {
		if len(l) > 75 || !strings.HasPrefix(strings.TrimPrefix(l, " "), "é") && !strings.HasPrefix(l, "DESCRIPTION") {
			t.Errorf("line %q", l)
		}
	}
	if got := strings.ReplaceAll(fold(s), "\r\n ", ""); got != s+"\r\n" {
		t.Errorf("unfolded %q", got)
	}
}
