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
