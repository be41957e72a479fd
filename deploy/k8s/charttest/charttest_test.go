package charttest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bookingrush/rush/deploy/k8s/charttest"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr     string
		want     string // the selectors, as fmt prints them
		grouping []string
	}{
		{`histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{namespace="rush", job=~"rush-.+"}[5m]))) > 0.5`,
			`[{http_request_duration_seconds_bucket [{namespace = rush} {job =~ rush-.+}]}]`, []string{"job", "le"}},
		{`sum(rate(x_total{code=~"5.."}[$__rate_interval])) / sum without (code) (rate(x_total[5m])) > bool 0.01`,
			`[{x_total [{code =~ 5..}]} {x_total []}]`, []string{"code"}},
		{`max(up) by (pod) == 0 and on (pod) kube_pod_info offset 5m`,
			`[{up []} {kube_pod_info []}]`, []string{"pod", "pod"}},
		{"a{l='it\\'s', m=\"}\"} unless count_values(\"v\", b)  # a comment naming c\n",
			`[{a [{l = it's} {m = }}]} {b []}]`, nil},
		{`rate(a[5m:1m]) * 1e-3 + topk(3, b) @ start()`, `[{a []} {b []}]`, nil},
	} {
		sels, grouping, err := charttest.Parse(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := fmt.Sprint(sels); got != tc.want || !slices.Equal(grouping, tc.grouping) {
			t.Errorf("%s:\n got %s %v\nwant %s %v", tc.expr, got, grouping, tc.want, tc.grouping)
		}
	}
	for _, bad := range []string{`sum(rate({__name__="x"}[5m]))`, `vector(1)`, `x{a="b"`, `x{a}`, `rate(x[5m)`} {
		if _, _, err := charttest.Parse(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestExpositionProblems(t *testing.T) {
	t.Parallel()
	var e charttest.Exposition
	e.Add(`# TYPE d_seconds histogram
d_seconds_bucket{route="/a",le="+Inf"} 1
d_seconds_sum{route="/a"} 0.1
d_seconds_count{route="/a"} 1
# TYPE r_total counter
r_total{code="200",route="/healthz"} 3
r_total{code="ok \"quoted\"",route="/b"} 1
`)
	codes := func(metric, label string) []string {
		if label == "code" {
			return []string{"500", "503"}
		}
		return nil
	}
	for _, tc := range []struct {
		sel    string
		family bool
		want   string
	}{
		{`d_seconds_bucket{route="/a", namespace="x", le="+Inf"}`, false, ""},
		{`d_seconds{route="/a"}`, false, "d_seconds is not exported"},
		{`d_seconds{route="/a"}`, true, ""},
		{`r_total{code=~"5..", route!~"/healthz|/b"}`, false, ""},
		{`r_total{code="ok \"quoted\""}`, false, ""},
		{`r_total{code=~"4.."}`, false, `no value of code matches "4.."`},
		{`r_total{route!~"/healthz|/readyz"}`, false, `no series with route="/readyz"`},
		{`r_total{path="/a"}`, false, "r_total has no label path (it has [code route])"},
		{`r_total{namespace=~"$namespace", route=~"$route"}`, false, ""},
	} {
		sels, _, err := charttest.Parse(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(e.Problems(sels[0], tc.family, codes), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.sel, got, tc.want)
		}
	}
	if e.Type("d_seconds_bucket") != "histogram" || e.Type("r_total") != "counter" || e.Type("nope_count") != "" {
		t.Errorf("types: %v", e.Types)
	}
}

func TestDocSeries(t *testing.T) {
	t.Parallel()
	doc := strings.Join([]string{
		"Alerts on `rush_relay_backlog` and `payment_refund_failures` (a table), `up{job=\"x\"} == 0`, `available >= 0`,",
		"`x_total{action=\"missed\"}`, `rush_dep_open{dependency}`, `kubectl -n rush logs deploy/rush-relay`, `payment_id`, `GetEventResponse{event}`.",
		"",
		"| series | type | labels | used by |",
		"|---|---|---|---|",
		"| `r_total` | counter | `code` (`INSUFFICIENT_STOCK` = sold out, …), `route` (the RPC; `/q`); `method` | RushAlpha, panel |",
		"| `g` | gauge | (payments with status `refund_failed`) | |",
		"",
		"```yaml",
		"- seriesQuery: 'ignored_total{a=\"b\"}'",
		"```",
	}, "\n")
	refs, err := charttest.DocSeries("doc.md", doc, []string{"rush_relay_backlog"}, map[string]string{"payment_refund_failures": "a table"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, fmt.Sprintf("%s %v %s %v", r.Where, r.Selector, r.Type, r.UsedBy))
	}
	want := []string{
		"doc.md:1 {rush_relay_backlog []}  []",
		"doc.md:1 {up [{job = x}]}  []",
		"doc.md:2 {x_total [{action = missed}]}  []",
		"doc.md:2 {rush_dep_open [{dependency  }]}  []",
		"doc.md:6 {r_total [{code  } {code = INSUFFICIENT_STOCK} {route  } {route = /q} {method  }]} counter [RushAlpha]",
		"doc.md:7 {g []} gauge []",
	}
	if !slices.Equal(got, want) {
		t.Errorf("refs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
