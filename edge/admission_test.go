package edge

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testAdmission is a limit of 10 within [4, 12], target 50 ms.
func testAdmission(t *testing.T) (*admission, AdmissionConfig) {
	t.Helper()
	cfg := AdmissionConfig{Enabled: true, Initial: 10, Min: 4, Max: 12, Target: 50 * time.Millisecond, RetryAfter: time.Second}
	a, err := newAdmission(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return a, cfg
}

// TestAdmissionLimitAdapts: once per window (2x the target) the limit grows
// by one when it was in use and at most 5% of the answers were slower than
// the target, shrinks by a tenth when more were (an odd slow answer among
// many fast ones does not), never leaves [min, max], and does not grow while
// unused; beyond the limit a request is shed.
func TestAdmissionLimitAdapts(t *testing.T) {
	t.Parallel()
	a, cfg := testAdmission(t)
	now := time.Now()
	for range 10 {
		if !a.acquire() {
			t.Fatal("shed below the limit")
		}
	}
	if a.acquire() {
		t.Fatal("admitted beyond the limit")
	}
	// window runs one window of answers of the given latencies at full use.
	window := func(latencies ...time.Duration) {
		for _, l := range latencies {
			a.release(l, now, true)
			a.acquire()
		}
		now = now.Add(a.window)
		a.release(latencies[0], now, true)
		a.acquire()
	}
	window(time.Millisecond, time.Millisecond, time.Millisecond)
	if l := a.current(); l != 11 {
		t.Fatalf("limit after a fast window in use: %.2f, want 11", l)
	}
	fast := make([]time.Duration, 30)
	for i := range fast {
		fast[i] = time.Millisecond
	}
	window(append(fast, 200*time.Millisecond)...)
	if l := a.current(); l != 12 {
		t.Fatalf("limit after a fast window with one slow answer: %.2f, want 12", l)
	}
	window(time.Millisecond, time.Millisecond, time.Millisecond, 100*time.Millisecond)
	if l := a.current(); l < 10.7 || l > 10.9 {
		t.Fatalf("limit after a slow window: %.2f, want 10.8", l)
	}
	for range 30 {
		window(time.Second)
	}
	if l := a.current(); l != float64(cfg.Min) {
		t.Fatalf("limit after sustained slowness: %.2f, want the minimum %d", l, cfg.Min)
	}
	for a.inflight > 0 {
		a.release(time.Millisecond, now, true)
	}
	idle := func() {
		a.acquire()
		now = now.Add(a.window)
		a.release(time.Millisecond, now, true)
	}
	idle() // ends the window that began in use
	before := a.current()
	for range 20 {
		idle()
	}
	if l := a.current(); l != before {
		t.Fatalf("an idle limit moved from %.2f to %.2f", before, l)
	}
}

// TestAdmissionUndoesAShrinkThatBringsRetries: a shrink after which requests
// arrive at more than 1.3x their average for two windows (shed clients that
// come straight back) is undone, and the limit holds for 3 windows however
// slow they are; a crowd arriving at a steady rate is shed as before, and one
// burst after a shrink undoes nothing.
func TestAdmissionUndoesAShrinkThatBringsRetries(t *testing.T) {
	t.Parallel()
	a, _ := testAdmission(t)
	now := time.Now()
	// window: arrivals requests ask for a slot (beyond the limit they are
	// shed), and each admitted one is answered after latency; the last
	// answer ends the window.
	window := func(arrivals int, latency time.Duration) {
		admitted := 0
		for range arrivals {
			if a.acquire() {
				admitted++
			}
		}
		for i := range admitted {
			at := now
			if i == admitted-1 {
				at = now.Add(a.window)
			}
			a.release(latency, at, true)
		}
		now = now.Add(a.window)
	}
	want := func(step string, limit float64) {
		t.Helper()
		if l := a.current(); l < limit-0.01 || l > limit+0.01 {
			t.Fatalf("%s: limit %.2f, want %.2f", step, l, limit)
		}
	}
	fast, slow := time.Millisecond, 100*time.Millisecond
	for range 3 {
		window(10, fast)
	}
	want("fast windows in use", 12)
	window(10, slow)
	want("a slow window", 10.8)
	window(30, slow) // the shed clients are back at once
	want("one window of retries", 10.8)
	window(30, slow)
	want("two windows of retries", 12)
	for range 2 {
		window(30, slow)
	}
	want("slow windows after the undo", 12)
	window(30, slow)
	want("a slow window after the hold", 10.8)

	// A crowd arriving at a steady rate: each slow window shrinks.
	b, _ := testAdmission(t)
	a = b
	for range 3 {
		window(30, fast)
	}
	window(30, slow)
	window(30, slow)
	want("a steady crowd, two slow windows", 9.72)
	// One burst after a shrink, then the rate as before: nothing undone.
	window(60, slow)
	want("a burst after a shrink", 9.72)
	window(30, slow)
	want("a slow window after the burst", 8.75)
}

// TestAdmissionRefusalsAreNoSamples: a reserve the edge refused itself (bad
// token, rate limit) frees its slot but does not count as a fast answer, so
// a flood of refusals cannot raise the limit over a slow upstream.
func TestAdmissionRefusalsAreNoSamples(t *testing.T) {
	t.Parallel()
	a, _ := testAdmission(t)
	now := time.Now()
	for range 10 {
		a.acquire()
	}
	a.release(time.Second, now, true)
	a.acquire()
	for range 100 {
		a.release(time.Millisecond, now, false)
		if !a.acquire() {
			t.Fatal("a refusal did not free its slot")
		}
	}
	a.release(time.Second, now.Add(a.window), true)
	if l := a.current(); l != 9 {
		t.Fatalf("limit after a slow window among refusals: %.2f, want 9", l)
	}
}

// The show of a shed reserve, read without decoding the body, is the one
// protojson would decode: for both spellings of the key, with spaces,
// escapes (which go to encoding/json) and the key's text inside a value.
func TestBodyShowID(t *testing.T) {
	for body, want := range map[string]string{
		`{"show_id":"s-1","zone_id":"z","quantity":2}`:    "s-1",
		`{"quantity":2, "showId" : "s-2"}`:                "s-2",
		"{\n\t\"show_id\"\t:\n \"s-3\"}":                  "s-3",
		`{"show_id":"s\u002d4"}`:                          "s-4",
		`{"note":"\"show_id\" is a key","show_id":"s-5"}`: "s-5",
		`{"zone_id":"z","quantity":2}`:                    "",
		`{"show_id":7}`:                                   "",
		`{"show_id":"unterminated`:                        "",
		`not json "show_id"`:                              "",
		``:                                                "",
	} {
		if got := bodyShowID([]byte(body)); got != want {
			t.Errorf("bodyShowID(%s) = %q, want %q", body, got, want)
		}
	}
}
