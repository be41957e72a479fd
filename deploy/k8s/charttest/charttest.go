// Package charttest renders the rush Helm chart for tests and reads what the
// rendered chart asks of the code: the PromQL of its alerts and of its
// Grafana dashboard. The chart's own tests (deploy/k8s) decode every object;
// the edge's end-to-end test checks that every series those queries name is
// one the running mesh exports.
package charttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// ChartDir is the chart's directory, found from this file so that any
// package's tests can render it.
func ChartDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "rush")
}

// Helm is the helm binary: bin/tools/helm (make tools) or helm on PATH.
func Helm(t testing.TB) string {
	t.Helper()
	local := filepath.Join(ChartDir(), "..", "..", "..", "bin", "tools", "helm")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	t.Fatal("helm not found in bin/tools or PATH: run `make tools`")
	return ""
}

// Template runs helm template of the chart; args are helm flags ("-f",
// "--set"), relative files resolved against the chart's directory.
func Template(t testing.TB, release, namespace string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(Helm(t), append([]string{"template", release, ".", "--namespace", namespace}, args...)...)
	cmd.Dir = ChartDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %v: %w: %s", args, err, stderr.String())
	}
	return out, nil
}

// Query is one PromQL expression of the chart and where it is.
type Query struct {
	Where string // "alert RushKafkaLag", "panel Holds active"
	Expr  string
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// Queries renders the chart with the production values (alerts and
// dashboard on) and returns every expression of its PrometheusRule and of
// its dashboard's panels.
func Queries(t testing.TB) []Query {
	t.Helper()
	out, err := Template(t, "rush", "rush", "-f", "values-production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var qs []Query
	for _, doc := range docSep.Split(string(out), -1) {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				Groups []struct {
					Rules []struct {
						Alert, Record, Expr string
					} `json:"rules"`
				} `json:"groups"`
			} `json:"spec"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("rendered chart: %v", err)
		}
		switch {
		case obj.Kind == "PrometheusRule":
			for _, g := range obj.Spec.Groups {
				for _, r := range g.Rules {
					qs = append(qs, Query{Where: "alert " + r.Alert + r.Record, Expr: r.Expr})
				}
			}
		case obj.Kind == "ConfigMap" && obj.Data["rush.json"] != "":
			var board struct {
				Panels []struct {
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal([]byte(obj.Data["rush.json"]), &board); err != nil {
				t.Fatalf("dashboard: %v", err)
			}
			for _, p := range board.Panels {
				for _, tg := range p.Targets {
					qs = append(qs, Query{Where: "panel " + p.Title, Expr: tg.Expr})
				}
			}
		}
	}
	if !slices.ContainsFunc(qs, func(q Query) bool { return strings.HasPrefix(q.Where, "alert ") }) ||
		!slices.ContainsFunc(qs, func(q Query) bool { return strings.HasPrefix(q.Where, "panel ") }) {
		t.Fatalf("the production values render no alerts or no dashboard: %v", qs)
	}
	return qs
}

// Selector is one series selector of a query: a metric name and the labels
// its matchers name.
type Selector struct {
	Metric string
	Labels []string
}

var (
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	groupingRE = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// Parse returns the selectors of expr and the labels its aggregations group
// by. Every metric of the chart's queries is written with braces (each is
// scoped to the release's namespace), which is what makes this small
// reading enough; a bare metric name is an error.
func Parse(expr string) (sels []Selector, grouping []string, err error) {
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		s := Selector{Metric: m[1]}
		for _, l := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			s.Labels = append(s.Labels, l[1])
		}
		sels = append(sels, s)
	}
	for _, m := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouping = append(grouping, l)
			}
		}
	}
	if len(sels) == 0 {
		return nil, nil, fmt.Errorf("no series selector with braces in %q", expr)
	}
	return sels, grouping, nil
}
