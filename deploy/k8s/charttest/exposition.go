package charttest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// TargetLabels are added by Prometheus when it scrapes a pod through the
// chart's ServiceMonitor (the Service's job, the pod, its namespace...),
// never exported by the code: a query may match or group by them freely.
var TargetLabels = []string{"namespace", "job", "pod", "instance", "service", "endpoint", "container"}

// Exposition is what /metrics pages exported: every sample name with the
// values each of its labels took, and every family's type.
type Exposition struct {
	Samples map[string]map[string]map[string]bool // sample -> label -> values
	Types   map[string]string                     // family -> counter, gauge, histogram...
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)`)
)

// Add reads one /metrics page (the Prometheus text format) into e.
func (e *Exposition) Add(text string) {
	if e.Samples == nil {
		e.Samples, e.Types = map[string]map[string]map[string]bool{}, map[string]string{}
	}
	for line := range strings.Lines(text) {
		if m := typeLine.FindStringSubmatch(line); m != nil {
			e.Types[m[1]] = m[2]
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := e.Samples[m[1]]
		if labels == nil {
			labels = map[string]map[string]bool{}
			e.Samples[m[1]] = labels
		}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			v, err := strconv.Unquote(`"` + l[2] + `"`)
			if err != nil {
				v = l[2]
			}
			if labels[l[1]] == nil {
				labels[l[1]] = map[string]bool{}
			}
			labels[l[1]][v] = true
		}
	}
}

// labels answers the label values of name's samples (of every sample of
// the family, when family).
func (e *Exposition) labels(name string, family bool) (map[string]map[string]bool, bool) {
	if l, ok := e.Samples[name]; ok {
		return l, true
	}
	if !family || (e.Types[name] != "histogram" && e.Types[name] != "summary") {
		return nil, false
	}
	out := map[string]map[string]bool{}
	for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
		for l, vs := range e.Samples[name+suffix] {
			if out[l] == nil {
				out[l] = map[string]bool{}
			}
			maps.Copy(out[l], vs)
		}
	}
	return out, true
}

// Unseen answers the values a label of a metric can take beyond those a
// scrape showed (every HTTP status, every Connect code: an error the
// scenario did not earn), for matchers of error codes; nil when none.
type Unseen func(metric, label string) []string

// Problems lists what e lacks of sel: its metric (a family's name when
// family, as documents name histograms), a label it matches, or a value it
// names. Each value a matcher names one by one must have been exported,
// or be one of unseen's; any other regular expression must match one of
// them. Target labels and values with a Grafana variable ($namespace) are
// not the code's to export.
func (e *Exposition) Problems(sel Selector, family bool, unseen Unseen) []string {
	labels, ok := e.labels(sel.Metric, family)
	if !ok {
		return []string{fmt.Sprintf("%s is not exported", sel.Metric)}
	}
	var out []string
	for _, m := range sel.Matchers {
		if slices.Contains(TargetLabels, m.Label) {
			continue
		}
		seen, ok := labels[m.Label]
		if !ok {
			out = append(out, fmt.Sprintf("%s has no label %s (it has %v)", sel.Metric, m.Label, slices.Sorted(maps.Keys(labels))))
			continue
		}
		if m.Op == "" || m.Value == "" || strings.Contains(m.Value, "$") {
			continue
		}
		values := maps.Clone(seen)
		if unseen != nil {
			for _, v := range unseen(sel.Metric, m.Label) {
				values[v] = true
			}
		}
		if lits, ok := m.Literals(); ok {
			for _, v := range lits {
				if !values[v] {
					out = append(out, fmt.Sprintf("%s has no series with %s=%q (its values: %v)", sel.Metric, m.Label, v, slices.Sorted(maps.Keys(seen))))
				}
			}
			continue
		}
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %s%s%q: %v", sel.Metric, m.Label, m.Op, m.Value, err))
			continue
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(values)), re.MatchString) {
			out = append(out, fmt.Sprintf("%s: no value of %s matches %q (its values: %v)", sel.Metric, m.Label, m.Value, slices.Sorted(maps.Keys(seen))))
		}
	}
	return out
}

// LabelNames answers every label name of the samples of name (of its
// family, when family).
func (e *Exposition) LabelNames(name string, family bool) []string {
	labels, _ := e.labels(name, family)
	return slices.Sorted(maps.Keys(labels))
}

// Type answers the type of the family a sample name belongs to ("" when
// e has none): http_request_duration_seconds_bucket is a histogram's.
func (e *Exposition) Type(name string) string {
	if t, ok := e.Types[name]; ok {
		return t
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if t := e.Types[base]; t == "histogram" || t == "summary" {
				return t
			}
		}
	}
	return ""
}
