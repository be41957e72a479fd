// Package load drives a target open-model (constant arrival rate) or
// closed-loop (N workers) and records what came back: an HDR latency
// histogram, answers by outcome, seats won, and the requests the generator
// could not send on time.
package load

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram records latencies from 1 µs to 5 minutes with 3 significant
// digits (HdrHistogram): percentiles are exact to 0.1%, whatever the spread.
// It is not safe for concurrent use: the workers keep their latencies as
// lists, recorded into one histogram at the end.
type Histogram struct{ h *hdrhistogram.Histogram }

// maxLatency is the largest latency the histogram can hold; larger ones are
// clamped to it (and still counted).
const maxLatency = 5 * time.Minute

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(1, int64(maxLatency/time.Microsecond), 3)}
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < 1 {
		us = 1
	}
	if us > int64(maxLatency/time.Microsecond) {
		us = int64(maxLatency / time.Microsecond)
	}
	_ = h.h.RecordValue(us) // in range by construction
}

// Count is the number of recorded latencies.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Percentile returns the latency at or below which p percent (0-100) of the
// recorded ones lie; 0 when nothing was recorded.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.ValueAtQuantile(p)) * time.Microsecond
}

// Max is the largest recorded latency (to the histogram's precision).
func (h *Histogram) Max() time.Duration {
	return time.Duration(h.h.Max()) * time.Microsecond
}

// Mean is the average latency.
func (h *Histogram) Mean() time.Duration {
	return time.Duration(h.h.Mean() * float64(time.Microsecond))
}
