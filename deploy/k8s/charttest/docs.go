package charttest

import (
	"fmt"
	"regexp"
	"strings"
)

// DocRef is a series a Markdown document names.
type DocRef struct {
	Where string // "README.md:752"
	Selector
	// Type and UsedBy are what a series table's row says of it: its type
	// (counter, gauge, histogram) and the alerts it names as users.
	Type   string
	UsedBy []string
}

var (
	codeSpan = regexp.MustCompile("`([^`\n]+)`")
	// spanName is a lower-case name in a code span, at its start or after
	// a space, parenthesis or comma, with the braces after it.
	spanName   = regexp.MustCompile(`(?:^|[\s(,])([a-z_:][a-z0-9_:]*)(\{[^}]*\})?`)
	unitSuffix = regexp.MustCompile(`_(?:total|seconds|bucket|sum|count|bytes)$`)
	alertName  = regexp.MustCompile(`\bRush[A-Z][A-Za-z]+\b`)
)

// DocSeries reads the series a Markdown document names, outside fenced
// code blocks: in a table whose first column is "series", each row's
// series with the labels (and the values in parentheses after a label) of
// its "labels" column, its "type" and the alerts of its "used by"; and
// elsewhere every name in a code span that reads as a series: with braces
// (`x{action="missed_event"}`, or a document's `x{procedure,code}`), with a
// unit suffix (_total, _seconds, _bucket...), or beginning with the first
// two words of a family the code exports (known), so a mistyped word
// further on shows. notMetrics are the
// names of that last kind that are something else (a table).
func DocSeries(name, text string, known []string, notMetrics map[string]string) ([]DocRef, error) {
	prefixes := map[string]bool{}
	for _, k := range known {
		if w := strings.SplitN(k, "_", 3); len(w) == 3 {
			prefixes[w[0]+"_"+w[1]] = true
		}
	}
	var refs []DocRef
	var header []string // of the table the line is in
	fenced := false
	for n, line := range strings.Split(text, "\n") {
		where := fmt.Sprintf("%s:%d", name, n+1)
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if cells, ok := tableRow(line); ok {
			switch {
			case header == nil:
				header = cells
				continue
			case strings.Trim(strings.Join(cells, ""), "-: ") == "": // the separator row
				continue
			case strings.EqualFold(header[0], "series"):
				ref, err := seriesRow(where, header, cells)
				if err != nil {
					return nil, err
				}
				refs = append(refs, ref)
				continue
			}
		} else {
			header = nil
		}
		for _, span := range codeSpan.FindAllStringSubmatch(line, -1) {
			for _, m := range spanName.FindAllStringSubmatch(span[1], -1) {
				metric, braces := m[1], m[2]
				w := strings.SplitN(metric, "_", 3)
				if _, skip := notMetrics[metric]; skip ||
					(braces == "" && !unitSuffix.MatchString(metric) && (len(w) < 3 || !prefixes[w[0]+"_"+w[1]])) {
					continue
				}
				sel, err := docSelector(metric, braces)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
				refs = append(refs, DocRef{Where: where, Selector: sel})
			}
		}
	}
	return refs, nil
}

// tableRow splits a Markdown table row into its cells.
func tableRow(line string) ([]string, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil, false
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells, true
}

// docSelector reads a document's braces after a metric: matchers
// (action="missed_event") or label names (procedure,code).
func docSelector(metric, braces string) (Selector, error) {
	sel := Selector{Metric: metric}
	if braces == "" {
		return sel, nil
	}
	if strings.Contains(braces, "=") {
		ms, _, err := matchers(braces, 0)
		sel.Matchers = ms
		return sel, err
	}
	for l := range strings.SplitSeq(strings.Trim(braces, "{}"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			sel.Matchers = append(sel.Matchers, Matcher{Label: l})
		}
	}
	return sel, nil
}

// seriesRow reads a row of a series table: the series in the first
// column; in "labels", each label in a code span and, in the parentheses
// right after it, the values in code spans; "type"; the alerts of "used by".
func seriesRow(where string, header, cells []string) (DocRef, error) {
	col := func(name string) string {
		for i, h := range header {
			if strings.EqualFold(h, name) && i < len(cells) {
				return cells[i]
			}
		}
		return ""
	}
	first := codeSpan.FindStringSubmatch(cells[0])
	if first == nil {
		return DocRef{}, fmt.Errorf("%s: a series table's row without a series in a code span: %q", where, cells[0])
	}
	ref := DocRef{Where: where, Selector: Selector{Metric: first[1]}, Type: col("type"), UsedBy: alertName.FindAllString(col("used by"), -1)}
	labels := col("labels")
	depth, label := 0, ""
	for i := 0; i < len(labels); i++ {
		switch labels[i] {
		case '(':
			depth++
		case ')':
			depth--
			label = ""
		case '`':
			end := strings.IndexByte(labels[i+1:], '`')
			if end < 0 {
				return DocRef{}, fmt.Errorf("%s: unclosed code span in %q", where, labels)
			}
			word := labels[i+1 : i+1+end]
			i += end + 1
			switch {
			case depth == 0:
				label = word
				ref.Matchers = append(ref.Matchers, Matcher{Label: word})
			case depth == 1 && label != "":
				ref.Matchers = append(ref.Matchers, Matcher{Label: label, Op: "=", Value: word})
			}
		case ',', ';':
			if depth == 0 {
				label = ""
			}
		}
	}
	return ref, nil
}
