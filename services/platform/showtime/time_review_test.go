package showtime_test

import (
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/showtime"
)

// TestTimeReviewZoneIsAVenueZone: the tz database directory of a host holds
// files that are not venue zones: "localtime" (the server's own zone, which
// Zone refuses when it is spelled "Local"), "posixrules", the "right/"
// tree (clocks counting leap seconds: Go reads their transitions ~27 s
// off and, in December, writes Paris in summer time), its "posix/" copy,
// and "Factory". An event given one of them has its mails written in the
// replica's zone, or at the wrong hour, while the web app (which does not
// know them) writes UTC. The name must be refused, as "Local" is.
func TestTimeReviewZoneIsAVenueZone(t *testing.T) {
	at := time.Date(2026, 12, 12, 19, 0, 0, 0, time.UTC) // 20:00 in Paris
	for _, bad := range []string{"localtime", "posixrules", "right/Europe/Paris", "posix/Europe/Paris", "right/UTC", "Factory"} {
		if loc, err := showtime.Zone(bad); err == nil {
			t.Errorf("Zone(%q) accepted (%s): a show at 20:00 CET is mailed as %q", bad, loc, showtime.Format(at, bad))
		}
	}
}
