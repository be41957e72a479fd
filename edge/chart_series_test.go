package edge_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/deploy/k8s/charttest"
	"github.com/bookingrush/rush/services/testkit"
)

// targetLabels are added by Prometheus when it scrapes (the Service's job,
// the pod, its namespace), never exported by the code.
var targetLabels = []string{"namespace", "job", "pod", "instance", "service", "endpoint", "container"}

// exposition is a scrape of /metrics: the label names seen on each series.
type exposition map[string]map[string]bool

var seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)
var labelName = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)

// series reads the label names of each series of a /metrics text.
func series(text string) exposition {
	out := exposition{}
	for line := range strings.Lines(text) {
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]bool{}
		}
		for _, l := range labelName.FindAllStringSubmatch(m[2], -1) {
			out[m[1]][l[1]] = true
		}
	}
	return out
}

// checkChartSeries asserts every series the chart's alerts and dashboard
// query is exported by the mesh whose metrics answer at metricsURL (after a
// scenario that reserved, paid, refunded and joined a queue), with every
// label the query matches or groups by; and that the queue's event stream,
// served meanwhile, is counted but kept out of the latency histogram.
func checkChartSeries(t *testing.T, metricsURL string) {
	t.Helper()
	var text string
	testkit.Eventually(t, 5*time.Second, "the queue's event stream counted", func() bool {
		text = metricsText(t, metricsURL)
		return strings.Contains(text, `http_requests_total{code="200",method="GET",route="`+queueEventsPath+`"}`)
	})
	if strings.Contains(text, `http_request_duration_seconds_bucket{le="0.001",route="`+queueEventsPath+`"}`) {
		t.Error("the queue's event stream is timed in http_request_duration_seconds (a long stream trips the p99 alert)")
	}
	exp := series(metricsText(t, metricsURL))
	for _, q := range charttest.Queries(t) {
		sels, grouping, err := charttest.Parse(q.Expr)
		if err != nil {
			t.Errorf("%s: %v", q.Where, err)
			continue
		}
		labelsOf := map[string]bool{}
		for _, s := range sels {
			if s.Metric == "up" {
				continue // Prometheus' own, per scrape target
			}
			labels, ok := exp[s.Metric]
			if !ok {
				t.Errorf("%s queries %s, which the mesh does not export", q.Where, s.Metric)
				continue
			}
			for l := range labels {
				labelsOf[l] = true
			}
			for _, l := range s.Labels {
				if !labels[l] && !slices.Contains(targetLabels, l) {
					t.Errorf("%s matches label %s of %s, which has none (it has %v)", q.Where, l, s.Metric, labels)
				}
			}
		}
		for _, l := range grouping {
			if !labelsOf[l] && !slices.Contains(targetLabels, l) {
				t.Errorf("%s groups by %s, which none of its series has", q.Where, l)
			}
		}
	}
}

const queueEventsPath = "/api/v1/queue/events"

// watchQueue opens the queue's event stream for a moment, as a waiting
// buyer's browser does, and closes it.
func watchQueue(t *testing.T, base, token, eventID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+queueEventsPath+"?event_id="+eventID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("queue events: %d", res.StatusCode)
	}
	buf := make([]byte, 512)
	_, _ = res.Body.Read(buf)
	<-ctx.Done()
}
