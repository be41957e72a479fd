package gate

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are what the doors did, for the operator of a night's entry: the
// scans by verdict, how they came (online, or synced from an offline door,
// and what that door said it did), and how long offline doors kept their
// scans before the gate had them.
type metrics struct {
	scans     *prometheus.CounterVec
	syncDelay prometheus.Histogram
}

// Where a scan came from (label source) and what its door did (label door):
// an online door follows the gate's answer (door "gate"); an offline one
// says, or not ("unsaid": a client from before Scan.door).
const (
	sourceOnline  = "online"
	sourceOffline = "offline"
	doorGate      = "gate"
	doorUnsaid    = "unsaid"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gate_scans_total",
			Help: "Scans recorded (a synced batch sent again counts once), by outcome (valid, already_used, revoked, wrong_event, invalid, wrong_show), source (online, offline: synced later) and door (gate: an online door follows the gate's answer; admitted, refused, unsaid: what an offline door said it did).",
		}, []string{"source", "door", "outcome"}),
		syncDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gate_sync_delay_seconds",
			Help:    "How long after it was made a synced offline scan reached the gate (recorded scans only): how long doors stayed offline.",
			Buckets: []float64{10, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600},
		}),
	}
	for _, c := range []prometheus.Collector{m.scans, m.syncDelay} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every series exists from the start, at 0: a dashboard of a night
	// before its doors open shows 0 rather than no data.
	for _, o := range []string{OutcomeValid, OutcomeAlreadyUsed, OutcomeRevoked, OutcomeWrongEvent, OutcomeInvalid, OutcomeWrongShow} {
		m.scans.WithLabelValues(sourceOnline, doorGate, o)
		for _, d := range []string{DoorAdmitted, DoorRefused, doorUnsaid} {
			m.scans.WithLabelValues(sourceOffline, d, o)
		}
	}
	return m, nil
}

// scanned counts a scan the gate recorded.
func (m *metrics) scanned(r ScanRecord, outcome string) {
	source, door := sourceOnline, doorGate
	if r.Offline {
		source, door = sourceOffline, r.Door
		if door == "" {
			door = doorUnsaid
		}
	}
	m.scans.WithLabelValues(source, door, outcome).Inc()
}
