package edge_test

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/bookingrush/rush/deploy/k8s/charttest"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// outsideRush are the series the chart and the documents may name that no
// rush process exports, and who does.
var outsideRush = map[string]string{
	// RushServiceDown and the dashboard's namespace variable read it.
	"up": "Prometheus' own sample of each scrape target (1 when the scrape succeeded)",
}

// webSeries is the web app's /metrics page as its own tests keep it: the
// series, labels and values of its metrics listener. The web app is a
// Node.js server this test does not start; its unit tests check the file
// against its registry and web/e2e/metrics.spec.ts against the built app.
const webSeries = "../web/src/lib/metrics/series.prom"

// webPage reads webSeries.
func webPage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(webSeries)
	if err != nil {
		t.Fatalf("the web app's series: %v", err)
	}
	return string(b)
}

// notMetrics are names in the documents that read like a series (the first
// two words of one) and are something else.
var notMetrics = map[string]string{
	"payment_refund_failures": "payment's table of the refunds that failed at the provider (docs/architecture.md)",
}

// skippedDocs are Markdown files not read for series.
var skippedDocs = map[string]string{
	"bench/RESULTS.md": "the log of past bench runs: each names the series as they were then",
}

// errorCodes are the values the code label of the request counters takes
// on errors: the error-rate alerts and panels name them though a scenario
// without errors shows none (a ratio without error series is 0 %, and the
// alert fires once errors are counted at a rate).
func errorCodes(metric, label string) []string {
	var out []string
	switch {
	case label != "code":
	case metric == "http_requests_total", metric == "web_bff_requests_total":
		for s := 100; s < 600; s++ {
			out = append(out, strconv.Itoa(s))
		}
	case strings.HasPrefix(metric, "rpc_server_"):
		for c := connect.CodeCanceled; c <= connect.CodeUnauthenticated; c++ {
			out = append(out, c.String())
		}
	}
	return out
}

// TestOperatorsQueryOnlyWhatTheMeshExports: an alert, a dashboard panel or
// an autoscaler that names a series (or a label, or a label's value) the
// code does not export never fires, shows "no data" or never scales, and
// nothing says so. The mesh runs one process per component, as the chart
// deploys it, and serves a little of everything through the edge (sign-ups,
// an event published, a purchase paid with the simulator, a sold-out
// answer, a cancellation refunded, the waiting room's stream, the probes).
// Then every series the chart asks for, rendered with the default and the
// production values (alerts, dashboard panels and variables,
// prometheus-adapter rules, KEDA triggers), and every series the Markdown
// documents name, must be on the processes' /metrics pages, with the
// labels and values named; the KEDA trigger's group on the very component
// it scales. The web app's page is webSeries. A series counted only on a rare event (a mail failed, a dead
// letter) is exported at 0 from the start, or an increase() over its first
// count sees nothing.
func TestOperatorsQueryOnlyWhatTheMeshExports(t *testing.T) {
	t.Parallel()
	charts := map[string]charttest.Chart{
		"default values":    charttest.Render(t),
		"production values": charttest.Render(t, "-f", "values-production.yaml"),
	}
	prod := charts["production values"]
	if !slices.ContainsFunc(prod.Queries, func(q charttest.Query) bool { return strings.HasPrefix(q.Where, "alert ") }) ||
		!slices.ContainsFunc(prod.Queries, func(q charttest.Query) bool { return strings.HasPrefix(q.Where, "panel ") }) ||
		len(prod.Kafka) == 0 || len(prod.CustomMetrics) == 0 {
		t.Fatalf("the production values render no alerts, panels, KEDA triggers or custom metrics: %+v", prod)
	}
	docs := readDocs(t)

	smtp := mailtest.NewServer(t)
	args, _ := wholeArgs(t, smtp)
	apps := testkit.Split(t, pgtest.Migrated(t), args...)
	// Before any traffic: what an alert matches is there, at 0.
	web := webPage(t)
	idle := &charttest.Exposition{}
	idle.Add(web)
	for _, app := range apps {
		idle.Add(metricsText(t, app.URL(t, "metrics")))
	}
	for _, p := range alertValuesAtStart(prod, idle) {
		t.Error(p)
	}

	a := &api{t: t, base: apps["edge"].URL(t, "edge")}
	tok := a.people([]string{"buyer", "org"}, "org")
	eventID, showID, zoneID := a.onSale(tok["org"], "Metrics Night", 3)
	booking, _ := a.buy(tok["buyer"], showID, zoneID, 2)
	a.want(a.call("POST", "/api/v1/bookings/reserve", tok["buyer"], map[string]any{"show_id": showID, "zone_id": zoneID, "quantity": 2},
		"Idempotency-Key", "sold-out-"+uuid.NewString()), http.StatusConflict, "INSUFFICIENT_STOCK")
	a.want(a.call("POST", "/api/v1/bookings/"+booking+"/cancel", tok["buyer"], nil), http.StatusOK, "")
	a.want(a.call("POST", "/api/v1/queue/join", tok["buyer"], map[string]any{"event_id": eventID}), http.StatusOK, "")
	watchQueue(t, a.base, tok["buyer"], eventID)
	for _, probe := range []string{"/healthz", "/readyz"} { // what RushHighErrorRate leaves out
		res, err := http.Get(a.base + probe)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}

	// Gauges read at scrape time (Kafka lag, backlogs) and the stream's
	// count, made when it closed, may take a moment.
	var problems []string
	var checked string
	deadline := time.Now().Add(15 * time.Second)
	for {
		byTarget := map[string]*charttest.Exposition{"web": {}}
		byTarget["web"].Add(web)
		all := &charttest.Exposition{}
		all.Add(web)
		for target, app := range apps {
			text := metricsText(t, app.URL(t, "metrics"))
			byTarget[target] = &charttest.Exposition{}
			byTarget[target].Add(text)
			all.Add(text)
		}
		problems, checked = operatorProblems(charts, docs, all, byTarget)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Log(checked)
}

// alertValuesAtStart lists the label values the alerts match (outcome="failed")
// that the idle mesh does not export: a counter's series born at 1 on its
// first count has no increase(), so the alert would miss that count.
func alertValuesAtStart(c charttest.Chart, idle *charttest.Exposition) []string {
	var out []string
	for _, q := range c.Queries {
		if !strings.HasPrefix(q.Where, "alert ") {
			continue
		}
		sels, _, _ := charttest.Parse(q.Expr) // its errors are operatorProblems'
		for _, s := range sels {
			eq := charttest.Selector{Metric: s.Metric}
			for _, m := range s.Matchers {
				if m.Op == "=" && !slices.Contains(charttest.TargetLabels, m.Label) {
					eq.Matchers = append(eq.Matchers, m)
				}
			}
			if len(eq.Matchers) == 0 {
				continue
			}
			for _, p := range idle.Problems(eq, false, nil) {
				out = append(out, fmt.Sprintf("%s, before any traffic: %s", q.Where, p))
			}
		}
	}
	return out
}

// doc is one Markdown file of the repository.
type doc struct{ name, text string }

// readDocs reads every Markdown file of the repository but the web app's,
// vendored ones and skippedDocs.
func readDocs(t *testing.T) []doc {
	t.Helper()
	root := filepath.Join("..")
	var out []doc
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			if slices.Contains([]string{".git", "node_modules", "web", "vendor", "bin"}, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if _, skip := skippedDocs[name]; skip || !strings.HasSuffix(name, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		out = append(out, doc{name, string(b)})
		return err
	})
	if err != nil || len(out) < 5 {
		t.Fatalf("reading the Markdown files: %v (%d read)", err, len(out))
	}
	return out
}

// operatorProblems lists what the charts and the documents name that the
// mesh (all: every process's /metrics; byTarget: each one's) does not
// export, and says how much it checked.
func operatorProblems(charts map[string]charttest.Chart, docs []doc, all *charttest.Exposition, byTarget map[string]*charttest.Exposition) (out []string, checked string) {
	selectors, triggers, refs := 0, 0, 0
	adapted := map[string]bool{}
	alerts := map[string]string{} // of the production values: name -> expression
	for values, c := range charts {
		for _, q := range c.Queries {
			where := fmt.Sprintf("%s (%s)", q.Where, values)
			sels, grouping, err := charttest.Parse(q.Expr)
			if err != nil {
				out = append(out, fmt.Sprintf("%s: %v", where, err))
				continue
			}
			if name, ok := strings.CutPrefix(q.Where, "alert "); ok {
				alerts[name] = q.Expr
			}
			labels := map[string]bool{}
			for _, s := range sels {
				if _, ok := outsideRush[s.Metric]; ok {
					continue
				}
				selectors++
				for _, p := range all.Problems(s, false, errorCodes) {
					out = append(out, fmt.Sprintf("%s: %s", where, p))
				}
				for _, l := range all.LabelNames(s.Metric, false) {
					labels[l] = true
				}
			}
			for _, l := range grouping {
				if !labels[l] && !slices.Contains(charttest.TargetLabels, l) {
					out = append(out, fmt.Sprintf("%s: groups or matches by %s, which none of its series has", where, l))
				}
			}
		}
		for _, k := range c.Kafka {
			triggers++
			e, ok := byTarget[k.Component]
			if !ok {
				out = append(out, fmt.Sprintf("KEDA trigger of %s (%s): no such component", k.Component, values))
				continue
			}
			sel := charttest.Selector{Metric: "kafka_consumer_lag", Matchers: []charttest.Matcher{{Label: "group", Op: "=", Value: k.Group}}}
			if k.Topic != "" {
				sel.Matchers = append(sel.Matchers, charttest.Matcher{Label: "topic", Op: "=", Value: k.Topic})
			}
			for _, p := range e.Problems(sel, false, nil) {
				out = append(out, fmt.Sprintf("KEDA trigger of %s (%s) reads group %s's lag, which %s does not consume: %s", k.Component, values, k.Group, k.Component, p))
			}
		}
		for _, n := range c.Adapted {
			adapted[n] = true
		}
		for _, n := range c.CustomMetrics {
			if !slices.Contains(c.Adapted, n) {
				out = append(out, fmt.Sprintf("an HPA (%s) reads the custom metric %s, which no prometheus-adapter rule of the chart serves", values, n))
			}
		}
	}

	for _, d := range docs {
		named, err := charttest.DocSeries(d.name, d.text, slices.Collect(maps.Keys(all.Samples)), notMetrics)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		listed := map[string]bool{}
		for _, r := range named {
			if _, ok := outsideRush[r.Metric]; ok || adapted[r.Metric] {
				continue // adapted: prometheus-adapter's name for a series checked above
			}
			refs++
			for _, p := range all.Problems(r.Selector, true, nil) {
				out = append(out, fmt.Sprintf("%s: %s", r.Where, p))
			}
			if r.Type == "" {
				continue
			}
			listed[r.Metric] = true
			if got := all.Type(r.Metric); got != "" && got != r.Type {
				out = append(out, fmt.Sprintf("%s: %s is a %s, not a %s", r.Where, r.Metric, got, r.Type))
			}
			for _, alert := range r.UsedBy {
				expr, ok := alerts[alert]
				if !ok {
					out = append(out, fmt.Sprintf("%s: %s is used by alert %s, which the chart does not have", r.Where, r.Metric, alert))
				} else if !strings.Contains(expr, r.Metric) {
					out = append(out, fmt.Sprintf("%s: %s is used by alert %s, whose expression does not name it: %s", r.Where, r.Metric, alert, expr))
				}
			}
		}
		if len(listed) == 0 {
			continue
		}
		// A series table lists every series the chart queries.
		for _, q := range charts["production values"].Queries {
			sels, _, _ := charttest.Parse(q.Expr)
			for _, s := range sels {
				if _, ok := outsideRush[s.Metric]; !ok && !listed[s.Metric] {
					listed[s.Metric] = true // once
					out = append(out, fmt.Sprintf("%s: its series table lacks %s, which %s queries", d.name, s.Metric, q.Where))
				}
			}
		}
	}

	// The queue's event stream is counted, but kept out of the latency
	// histogram (a long stream would trip the p99 alert).
	edge := byTarget["edge"]
	if !edge.Samples["http_requests_total"]["route"][queueEventsPath] {
		out = append(out, "the queue's event stream is not counted in http_requests_total")
	}
	if edge.Samples["http_request_duration_seconds_bucket"]["route"][queueEventsPath] {
		out = append(out, "the queue's event stream is timed in http_request_duration_seconds (a long stream trips the p99 alert)")
	}
	// Enough was read that a reader gone blind fails.
	if selectors < 40 || triggers < 5 || refs < 40 {
		out = append(out, fmt.Sprintf("read only %d selectors of the chart, %d KEDA triggers and %d series of the documents", selectors, triggers, refs))
	}
	return out, fmt.Sprintf("checked %d selectors of the chart, %d KEDA triggers and %d series the documents name", selectors, triggers, refs)
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
