package mesh

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMeasureCountsThreadsWaiting: a process with more busy threads than
// the machine has cores has threads waiting for one, and the account says
// so.
func TestMeasureCountsThreadsWaiting(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc here")
	}
	threads := 2 * runtime.NumCPU()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	pids := map[string]int{"self": os.Getpid()}
	snap := TakeCPU(pids)
	var wg sync.WaitGroup
	end := time.Now().Add(300 * time.Millisecond)
	for range threads {
		wg.Go(func() {
			// Each busy goroutine on a thread of its own, given back after
			// (a thread that ends takes its schedstat with it).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for time.Now().Before(end) {
			}
		})
	}
	wg.Wait()
	u := Measure(snap, pids)
	if u.Groups["self"] <= 0 {
		t.Fatalf("cores used by this process: %v, want > 0", u.Groups["self"])
	}
	if u.Waiting["self"] <= 0 {
		t.Fatalf("threads waiting for a core: %v with %d busy threads on %d cores, want > 0", u.Waiting["self"], threads, runtime.NumCPU())
	}
	if !strings.Contains(u.String(), "threads waiting for a core, on average: ") {
		t.Fatalf("the account does not print the waits: %s", u)
	}
}
