package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// memoryLimitShare is the part of the container's memory limit that Go's
// soft limit gets: the rest is headroom for what the container's limit counts
// and Go's does not (the kernel's socket buffers and page cache charged to
// the container, the binary's own pages).
const memoryLimitShare = 0.9

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's (runtime/debug.SetMemoryLimit), unless GOMEMLIMIT is set. Go
// takes GOMAXPROCS from the container's CPU limit by itself, but not its
// memory limit: without one, a process whose heap grows in a rush (the
// edge's waiting-room streams, its verified-token cache) collects only at
// GOGC's pace and the kernel kills the pod at the limit. With one, the
// collector runs more often as the heap nears it.
func setMemoryLimit(log *zap.Logger, lookupEnv func(string) (string, bool), files []string) {
	if v, ok := lookupEnv("GOMEMLIMIT"); ok && v != "" {
		return
	}
	limit, ok := cgroupMemoryLimit(files)
	if !ok {
		return
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Info("Go memory limit from the container's", zap.Int64("container_bytes", limit), zap.Int64("go_soft_limit_bytes", soft))
}

// cgroupMemoryLimit reads the first of files that exists: a byte count, or
// "max" (v2) or a value near 2^63 (v1) for none.
func cgroupMemoryLimit(files []string) (int64, bool) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false // "max", or v1's "no limit"
		}
		return n, true
	}
	return 0, false
}
