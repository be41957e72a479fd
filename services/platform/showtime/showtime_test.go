package showtime_test

import (
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/showtime"
)

func TestFormat(t *testing.T) {
	at := time.Date(2026, 12, 12, 19, 0, 0, 0, time.UTC)
	for _, c := range []struct{ zone, want string }{
		{"Europe/Paris", "Sat, 12 Dec 2026, 20:00 CET"},
		{"America/New_York", "Sat, 12 Dec 2026, 14:00 EST"},
		{"Asia/Kolkata", "Sun, 13 Dec 2026, 00:30 IST"},
		{"", "Sat, 12 Dec 2026, 19:00 UTC"},
		{"UTC", "Sat, 12 Dec 2026, 19:00 UTC"},
		{"Mars/Olympus_Mons", "Sat, 12 Dec 2026, 19:00 UTC"},
		{"Local", "Sat, 12 Dec 2026, 19:00 UTC"},
	} {
		if got := showtime.Format(at, c.zone); got != c.want {
			t.Errorf("Format(%s) = %q, want %q", c.zone, got, c.want)
		}
	}
	// Summer time is the zone's at that date.
	if got := showtime.Format(time.Date(2026, 7, 1, 18, 0, 0, 0, time.UTC), "Europe/Paris"); got != "Wed, 01 Jul 2026, 20:00 CEST" {
		t.Errorf("summer: %q", got)
	}
}

func TestZone(t *testing.T) {
	for _, ok := range []string{"", "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"} {
		if _, err := showtime.Zone(ok); err != nil {
			t.Errorf("Zone(%q): %v", ok, err)
		}
	}
	// Files of a host's zoneinfo directory that are no zone of the tz
	// database are refused as "Local" is: "localtime" (the replica's own
	// zone), "posixrules", "Factory", and the "posix/" and "right/" trees
	// (Go misreads the leap-second files: a 20:00 CET show in December
	// was mailed as 21:00 CEST). Browsers know none of them.
	for _, bad := range []string{"Local", "Mars/Olympus_Mons", "europe/paris", "../etc/passwd", "Europe/Paris/",
		"localtime", "posixrules", "right/Europe/Paris", "posix/Europe/Paris", "right/UTC", "Factory"} {
		if _, err := showtime.Zone(bad); err == nil {
			t.Errorf("Zone(%q) accepted", bad)
		}
	}
}
