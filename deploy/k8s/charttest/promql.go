package charttest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Matcher is one label matcher of a selector (code="INSUFFICIENT_STOCK"),
// or, with an empty Op, a label a document says a series has
// (rpc_server_requests_total{procedure,code}).
type Matcher struct {
	Label, Op, Value string
}

// Selector is one series selector: a metric name and its matchers.
type Selector struct {
	Metric   string
	Matchers []Matcher
}

// Literals answers the values a matcher names one by one: its value for =
// and !=, the alternatives of a regular expression made of plain words
// ("/healthz|/readyz") for =~ and !~; ok is false for any other regular
// expression ("5..") and for a label without a value.
func (m Matcher) Literals() (values []string, ok bool) {
	switch m.Op {
	case "=", "!=":
		return []string{m.Value}, true
	case "=~", "!~":
		alts := strings.Split(m.Value, "|")
		for _, a := range alts {
			if a == "" || regexp.QuoteMeta(a) != a {
				return nil, false
			}
		}
		return alts, true
	}
	return nil, false
}

var (
	// aggregations are PromQL's aggregation operators: a name among them
	// followed by "(" or by/without is no metric.
	aggregations = words("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio")
	// labelLists are the keywords followed by a parenthesised list of label names.
	labelLists = words("by without on ignoring group_left group_right")
	// keywords are PromQL's other reserved words.
	keywords = words("bool and or unless offset atan2 inf nan")
)

func words(s string) map[string]bool {
	out := map[string]bool{}
	for w := range strings.FieldsSeq(s) {
		out[w] = true
	}
	return out
}

// Parse reads a PromQL expression with a small tokenizer: every identifier
// that is no function, aggregation, keyword, label (inside braces or a
// by/without/on/ignoring list) or number is a metric name, with the
// matchers of the braces after it; strings and range brackets are skipped.
// It answers the selectors and the labels the expression groups or matches
// on; an expression without a metric, or a selector without a name, is an
// error.
func Parse(expr string) (sels []Selector, grouping []string, err error) {
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			_, end, err := quoted(s, i)
			if err != nil {
				return nil, nil, fmt.Errorf("%w in %q", err, expr)
			}
			i = end
		case c == '#': // a comment, to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '[': // a range or subquery: durations, Grafana's $__rate_interval
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, nil, fmt.Errorf("unclosed [ in %q", expr)
			}
			i += end + 1
		case c == '{':
			return nil, nil, fmt.Errorf("a selector without a metric name at %d of %q", i, expr)
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			name, next := s[i:j], skipSpace(s, j)
			at := func(b byte) bool { return next < len(s) && s[next] == b }
			switch {
			case labelLists[name]:
				if !at('(') {
					i = j // group_left without labels
					continue
				}
				end := strings.IndexByte(s[next:], ')')
				if end < 0 {
					return nil, nil, fmt.Errorf("unclosed %s( in %q", name, expr)
				}
				for l := range strings.SplitSeq(s[next+1:next+end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						grouping = append(grouping, l)
					}
				}
				i = next + end + 1
			case keywords[name], at('('):
				i = j // a keyword, a function or an aggregation's call
			case aggregations[name] && labelLists[identAt(s, next)]:
				i = j // sum by (job) (...)
			default:
				sel := Selector{Metric: name}
				i = j
				if at('{') {
					if sel.Matchers, i, err = matchers(s, next); err != nil {
						return nil, nil, fmt.Errorf("%w in %q", err, expr)
					}
				}
				sels = append(sels, sel)
			}
		default:
			i++
		}
	}
	if len(sels) == 0 {
		return nil, nil, fmt.Errorf("no metric in %q", expr)
	}
	return sels, grouping, nil
}

// matchers reads the label matchers of the braces at s[i] and answers
// them and the index after the closing brace.
func matchers(s string, i int) ([]Matcher, int, error) {
	var out []Matcher
	i++ // {
	for {
		for i < len(s) && (s[i] == ',' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unclosed {")
		}
		if s[i] == '}' {
			return out, i + 1, nil
		}
		label := identAt(s, i)
		if label == "" {
			return nil, 0, fmt.Errorf("no label name at %d", i)
		}
		i = skipSpace(s, i+len(label))
		op := ""
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s[i:], o) {
				op = o
				break
			}
		}
		if op == "" {
			return nil, 0, fmt.Errorf("no matcher after label %s", label)
		}
		i = skipSpace(s, i+len(op))
		value, end, err := quoted(s, i)
		if err != nil {
			return nil, 0, fmt.Errorf("label %s: %w", label, err)
		}
		out = append(out, Matcher{Label: label, Op: op, Value: value})
		i = end
	}
}

// quoted reads the string literal at s[i] and answers its value and the
// index after it.
func quoted(s string, i int) (string, int, error) {
	if i >= len(s) || !slices.Contains([]byte{'"', '\'', '`'}, s[i]) {
		return "", 0, fmt.Errorf("no string at %d", i)
	}
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			lit := s[i : j+1]
			if q == '\'' { // Go cannot unquote a single-quoted string
				lit = strconv.Quote(strings.ReplaceAll(s[i+1:j], `\'`, `'`))
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return "", 0, fmt.Errorf("string %s: %w", lit, err)
			}
			return v, j + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unclosed string at %d", i)
}

func identAt(s string, i int) string {
	if i >= len(s) || !isIdentStart(s[i]) {
		return ""
	}
	j := i
	for j < len(s) && isIdent(s[j]) {
		j++
	}
	return s[i:j]
}

func skipSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(" \t\r\n", s[i]) >= 0 {
		i++
	}
	return i
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }
