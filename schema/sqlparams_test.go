package schema_test

import (
	"regexp"
	"testing"
)

// slowArrayParam finds a query parameter typed as an array whose elements
// pgx cannot encode in binary from a Go []string (uuid, numeric): pgx then
// tries binary, fails, formats an error with the whole slice in it (%#v) and
// sends the array as text instead, on every call. That was 3% of booking's
// CPU in the persister's batches (bench/RESULTS.md, 2026-12-04 night).
var slowArrayParam = regexp.MustCompile(`(\$\d+)::(uuid|numeric)\[\]`)

// TestArrayParametersEncodeInBinary: every such parameter goes as text[] and
// is cast in the statement ($1::text[]::uuid[]), which pgx encodes in binary
// from a []string at once.
func TestArrayParametersEncodeInBinary(t *testing.T) {
	eachLiteral(t, func(_, at, s string) {
		for _, m := range slowArrayParam.FindAllStringSubmatch(s, -1) {
			t.Errorf("%s: %s: pgx cannot encode a []string in binary for it; write %s::text[]::%s[]", at, m[0], m[1], m[2])
		}
	})
}
