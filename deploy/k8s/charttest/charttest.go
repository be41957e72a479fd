// Package charttest renders the rush Helm chart for tests and reads what the
// rendered chart and the operators' documents ask of the code: the PromQL
// of its alerts, its Grafana dashboard, its prometheus-adapter rules and
// KEDA triggers (Render, Parse), and the series the Markdown documents name
// (DocSeries). The chart's own tests (deploy/k8s) decode every object; the
// edge's TestOperatorsQueryOnlyWhatTheMeshExports checks each of those
// series against the /metrics pages (Exposition) of a mesh run one process
// per component, as the chart deploys it.
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

// KafkaTrigger is a KEDA kafka trigger: the component it scales and the
// consumer group (and topic) whose lag it reads.
type KafkaTrigger struct {
	Component, Group, Topic string
}

// Chart is what a rendered chart asks of the running code.
type Chart struct {
	// Queries are the PromQL of the PrometheusRule, of the dashboard's
	// panels and variables, of the prometheus-adapter rules (their
	// placeholders filled in) and of KEDA prometheus triggers.
	Queries []Query
	// Kafka are the ScaledObjects' kafka triggers.
	Kafka []KafkaTrigger
	// CustomMetrics are the metrics the HPAs read from the custom metrics
	// API (Pods and Object metrics), and Adapted the names the rendered
	// prometheus-adapter rules serve there ("as").
	CustomMetrics, Adapted []string
}

var (
	docSep = regexp.MustCompile(`(?m)^---\s*$`)
	// labelValues is a Grafana variable's query: label_values(<selector>, <label>).
	labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
)

// Render runs helm template of the chart with args (helm flags such as
// "-f", "values-production.yaml") as release rush in namespace rush, and
// reads what it asks of the code.
func Render(t testing.TB, args ...string) Chart {
	t.Helper()
	out, err := Template(t, "rush", "rush", args...)
	if err != nil {
		t.Fatal(err)
	}
	var c Chart
	for _, doc := range docSep.Split(string(out), -1) {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Groups []struct {
					Rules []struct {
						Alert, Record, Expr string
					} `json:"rules"`
				} `json:"groups"`
				Triggers []struct {
					Type     string            `json:"type"`
					Metadata map[string]string `json:"metadata"`
				} `json:"triggers"`
				Metrics []struct {
					Pods, Object *struct {
						Metric struct {
							Name string `json:"name"`
						} `json:"metric"`
					}
				} `json:"metrics"`
			} `json:"spec"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("rendered chart: %v", err)
		}
		switch obj.Kind {
		case "PrometheusRule":
			for _, g := range obj.Spec.Groups {
				for _, r := range g.Rules {
					c.Queries = append(c.Queries, Query{Where: "alert " + r.Alert + r.Record, Expr: r.Expr})
				}
			}
		case "ScaledObject":
			for _, tr := range obj.Spec.Triggers {
				switch tr.Type {
				case "kafka":
					c.Kafka = append(c.Kafka, KafkaTrigger{Component: obj.Metadata.Labels["app.kubernetes.io/component"],
						Group: tr.Metadata["consumerGroup"], Topic: tr.Metadata["topic"]})
				case "prometheus":
					c.Queries = append(c.Queries, Query{Where: "ScaledObject " + obj.Metadata.Name, Expr: tr.Metadata["query"]})
				}
			}
		case "HorizontalPodAutoscaler":
			for _, m := range obj.Spec.Metrics {
				for _, src := range []*struct {
					Metric struct {
						Name string `json:"name"`
					} `json:"metric"`
				}{m.Pods, m.Object} {
					if src != nil {
						c.CustomMetrics = append(c.CustomMetrics, src.Metric.Name)
					}
				}
			}
		case "ConfigMap":
			if board := obj.Data["rush.json"]; board != "" {
				c.Queries = append(c.Queries, dashboardQueries(t, board)...)
			}
			if rules := obj.Data["rules.yaml"]; rules != "" {
				qs, names := adapterQueries(t, obj.Metadata.Name, rules)
				c.Queries, c.Adapted = append(c.Queries, qs...), append(c.Adapted, names...)
			}
		}
	}
	return c
}

// dashboardPanel is a Grafana panel; a row holds panels of its own.
type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// dashboardQueries reads the expressions of a Grafana dashboard's panels
// (rows included) and of its query variables.
func dashboardQueries(t testing.TB, board string) []Query {
	t.Helper()
	var d struct {
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(board), &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var qs []Query
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				qs = append(qs, Query{Where: "panel " + p.Title, Expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// The query is a string, or an object holding it (Grafana 9+).
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q.Query); err != nil {
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("dashboard variable %s: %v", v.Name, err)
			}
		}
		expr := q.Query
		if m := labelValues.FindStringSubmatch(expr); m != nil {
			expr = "count by (" + m[2] + ") (" + m[1] + ")" // what the label must be on
		}
		qs = append(qs, Query{Where: "dashboard variable " + v.Name, Expr: expr})
	}
	return qs
}

// adapterQueries reads prometheus-adapter rules: each one's seriesQuery,
// and its metricsQuery with the placeholders filled in as the adapter
// does (the series, no matchers of the HPA's, grouped by pod); and the
// names the rules serve.
func adapterQueries(t testing.TB, where, rules string) ([]Query, []string) {
	t.Helper()
	var rs []struct {
		SeriesQuery string `json:"seriesQuery"`
		Name        struct {
			Matches string `json:"matches"`
			As      string `json:"as"`
		} `json:"name"`
		MetricsQuery string `json:"metricsQuery"`
	}
	if err := yaml.Unmarshal([]byte(rules), &rs); err != nil {
		t.Fatalf("%s: rules.yaml: %v", where, err)
	}
	var qs []Query
	var names []string
	for _, r := range rs {
		qs = append(qs, Query{Where: where + " seriesQuery", Expr: r.SeriesQuery})
		sels, _, err := Parse(r.SeriesQuery)
		if err != nil {
			t.Fatalf("%s: seriesQuery: %v", where, err)
		}
		mq := strings.NewReplacer("<<.Series>>", sels[0].Metric, "<<.LabelMatchers>>,", "", "<<.LabelMatchers>>", "", "<<.GroupBy>>", "pod").Replace(r.MetricsQuery)
		qs = append(qs, Query{Where: where + " metricsQuery", Expr: mq})
		names = append(names, r.Name.As)
	}
	return qs, names
}
