// Package lua holds the Redis scripts of the hot path, embedded in the
// binary and run with EVALSHA (go-redis falls back to EVAL once when a
// server has not seen a script yet).
//
// Every script opens with its KEYS, ARGV and return values. Scripts whose
// name does not start with "lib" may use the helpers of lib.lua, which
// Script prepends.
package lua

import (
	"embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed *.lua
var FS embed.FS

// Script returns the named script (e.g. "reserve.lua"), with lib.lua's
// helpers prepended when the script calls for them (it contains the line
// "-- uses: lib.lua"). It panics on an unknown name: scripts are part of the
// binary, so that is a programming error.
func Script(name string) *redis.Script {
	return redis.NewScript(Source(name))
}

// Source returns the source text Script loads.
func Source(name string) string {
	b, err := FS.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("lua: no script %q", name))
	}
	src := string(b)
	if strings.Contains(src, "\n-- uses: lib.lua\n") {
		lib, err := FS.ReadFile("lib.lua")
		if err != nil {
			panic("lua: lib.lua missing")
		}
		src = string(lib) + "\n" + src
	}
	return src
}

// EventPrefix is the prefix of every key of one event under the booking
// engine's key prefix; the braces make the event id the hash tag, so all of
// an event's keys live in one Redis Cluster slot (see lib.lua for the layout).
func EventPrefix(prefix, eventID string) string { return prefix + "{ev:" + eventID + "}:" }

// Keys names the keys of one event (lib.lua documents the layout). It is the
// event's prefix, built once: a script that takes many of an event's keys
// pays for the prefix one time.
type Keys string

// EventKeys returns the keys of eventID under prefix.
func EventKeys(prefix, eventID string) Keys { return Keys(EventPrefix(prefix, eventID)) }

func (k Keys) Prefix() string               { return string(k) }
func (k Keys) Meta() string                 { return string(k) + "meta" }
func (k Keys) Zone(zoneID string) string    { return string(k) + "zone:" + zoneID }
func (k Keys) Hold(bookingID string) string { return string(k) + "hold:" + bookingID }
func (k Keys) Expiry() string               { return string(k) + "expiry" }
func (k Keys) Stream() string               { return string(k) + "stream" }
func (k Keys) User(userID string) string    { return string(k) + "user:" + userID }
func (k Keys) Idem(userID, key string) string {
	return string(k) + "idem:" + userID + ":" + key
}

// Gate is the event's waiting room as reserve.lua checks a queue pass
// against it (epoch, cursor, floor...): the queue's admitter writes it,
// under the booking engine's prefix, where the reserve script reads.
func (k Keys) Gate() string { return string(k) + "gate" }

// GateTicks are the admission steps of the waiting room: the end of each
// step's shopping window, scored by the cursor after it.
func (k Keys) GateTicks() string { return string(k) + "gate:ticks" }

// GateUsed are the queue passes a reserve used ("<sequence>:<user id>",
// scored by the end of its window; lib.lua's pass_window).
func (k Keys) GateUsed() string { return string(k) + "gate:used" }

// Waitlist is zone zoneID's waitlist: user id -> join sequence.
func (k Keys) Waitlist(zoneID string) string { return string(k) + "wl:" + zoneID }

// WaitlistQty are the seats each user on zone zoneID's waitlist wants.
func (k Keys) WaitlistQty(zoneID string) string { return string(k) + "wlq:" + zoneID }

// WaitlistSeq is the event's last waitlist join sequence.
func (k Keys) WaitlistSeq() string { return string(k) + "wl:seq" }

// WaitlistRecorded marks an event whose every waitlist place has its row
// in booking's waitlist_entries: written by load.lua's whole write (the
// lines come from the rows) and by booking's one pass over the places
// taken before the rows existed.
func (k Keys) WaitlistRecorded() string { return string(k) + "wl:rec" }

// Answers reads the reply of a script that decides a batch (reserve.lua,
// queue_join.lua): one list of strings per item, in order.
func Answers(raw []any) [][]string {
	out := make([][]string, len(raw))
	for i, r := range raw {
		items, _ := r.([]any)
		out[i] = make([]string, len(items))
		for j, x := range items {
			out[i][j], _ = x.(string)
		}
	}
	return out
}
