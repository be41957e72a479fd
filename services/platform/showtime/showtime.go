// Package showtime writes a show's moments as people at the venue read
// them: in the event's time zone (an IANA name, catalog's events.time_zone),
// saying which zone.
package showtime

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the tz database inside the binary: an image without /usr/share/zoneinfo still knows every zone
)

// Zone returns the location of an event's time zone name; "" is UTC. A
// name the tz database does not have is an error, and so is "Local" (the
// server's own zone is nobody's venue), and so are the files of a host's
// zoneinfo directory that are no zone of it: "localtime" (the host's own
// zone again), "posixrules", "Factory", and the "posix/" and "right/"
// trees (the latter counts leap seconds, which Go misreads: it writes a
// December evening in Paris as summer time). Browsers know none of them.
func Zone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if notAZone(name) {
		return nil, fmt.Errorf("%q is not a time zone of the tz database", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a time zone of the tz database", name)
	}
	return loc, nil
}

// notAZone says whether name is a file of a zoneinfo directory, or Go's
// own name of the host's zone, rather than a zone of the tz database.
func notAZone(name string) bool {
	switch name {
	case "Local", "localtime", "posixrules", "Factory":
		return true
	}
	return strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/")
}

// Layout is how a moment is written: "Sat, 12 Dec 2026, 20:00 CET".
const Layout = "Mon, 02 Jan 2006, 15:04 MST"

// Format writes t in the zone named zone (UTC when it is empty or unknown).
func Format(t time.Time, zone string) string {
	loc, err := Zone(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format(Layout)
}
