package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"go.uber.org/zap"
)

// The container's memory limit, from cgroup v2 or v1, becomes 90% of it as
// the Go soft limit, unless GOMEMLIMIT says otherwise or there is none.
func TestMemoryLimitFromTheContainer(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2, v2max := file("memory.max", "268435456\n"), file("v2max", "max\n")
	v1, v1none := file("limit_in_bytes", "536870912\n"), file("v1none", "9223372036854771712\n")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		files []string
		want  int64
		ok    bool
	}{
		{[]string{v2, v1}, 268435456, true},
		{[]string{missing, v1}, 536870912, true},
		{[]string{v2max, v1}, 0, false}, // v2 says no limit: v1's file is not there on such a host
		{[]string{missing, v1none}, 0, false},
		{[]string{missing}, 0, false},
	} {
		if got, ok := cgroupMemoryLimit(c.files); got != c.want || ok != c.ok {
			t.Errorf("cgroupMemoryLimit(%v) = %d, %v; want %d, %v", c.files, got, ok, c.want, c.ok)
		}
	}

	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	noEnv := func(string) (string, bool) { return "", false }
	setMemoryLimit(zap.NewNop(), noEnv, []string{v2})
	if got, want := debug.SetMemoryLimit(-1), int64(268435456*9/10); got != want {
		t.Errorf("soft limit %d, want %d", got, want)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	setMemoryLimit(zap.NewNop(), func(string) (string, bool) { return "1GiB", true }, []string{v2})
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set, yet the soft limit became %d", got)
	}
	setMemoryLimit(zap.NewNop(), noEnv, []string{v2max})
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("no container limit, yet the soft limit became %d", got)
	}
}
