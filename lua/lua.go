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

// PassKey is where the queue service puts user's queue pass for an event and
// where reserve.lua looks for it.
func PassKey(prefix, eventID, userID string) string {
	return EventPrefix(prefix, eventID) + "pass:" + userID
}
