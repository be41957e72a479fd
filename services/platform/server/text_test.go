package server

import (
	"errors"
	"slices"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
)

// violations returns "field rule" for each violation of msg.
func violations(t *testing.T, msg proto.Message) []string {
	t.Helper()
	err := newValidator().Validate(msg)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("not a validation error: %v", err)
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, protovalidate.FieldPathString(v.Proto.GetField())+" "+v.Proto.GetRuleId())
	}
	slices.Sort(out)
	return out
}

func TestTextRuleJoinsTheContractsRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		msg  proto.Message
		want []string
	}{
		{"plain", &authv1.UpdateMeRequest{FullName: "Ada Lovelace"}, nil},
		{"multi-line", &authv1.UpdateMeRequest{FullName: "Ada\r\n\tLovelace"}, nil},
		{"NUL", &authv1.UpdateMeRequest{FullName: "a\x00b"}, []string{"full_name " + RuleNoControlCharacters}},
		{"DEL", &authv1.UpdateMeRequest{FullName: "a\x7fb"}, []string{"full_name " + RuleNoControlCharacters}},
		{"C1", &authv1.UpdateMeRequest{FullName: "a\u0085b"}, []string{"full_name " + RuleNoControlCharacters}},
		{"invalid UTF-8", &authv1.UpdateMeRequest{FullName: "a\xffb"}, []string{"full_name " + RuleValidUTF8}},
		// The contract's own rule (min_len) and the text rule, together.
		{"both", &authv1.RegisterRequest{Email: "a@b.test", Password: "secret-pass-1", FullName: "\x00"}, []string{"full_name " + RuleNoControlCharacters}},
		{"contract only", &authv1.UpdateMeRequest{}, []string{"full_name required"}},
	} {
		if got := violations(t, tc.msg); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTextRuleWalksNestedListsAndMaps(t *testing.T) {
	t.Parallel()
	s, err := structpb.NewStruct(map[string]any{
		"ok":     "fine",
		"bad":    "x\x01",
		"k\x00":  "fine",
		"nested": map[string]any{"list": []any{"fine", "y\x02"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`fields["bad"].string_value ` + RuleNoControlCharacters,
		`fields["k\x00"] ` + RuleNoControlCharacters,
		`fields["nested"].struct_value.fields["list"].list_value.values[1].string_value ` + RuleNoControlCharacters,
	}
	if got := violations(t, s); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestTimestampsOfARequestMustBeValid(t *testing.T) {
	t.Parallel()
	scan := func(secs int64, nanos int32) *gatev1.Scan {
		return &gatev1.Scan{Code: "BRT1:X", ScannedAt: &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}}
	}
	for _, tc := range []struct {
		name string
		at   *gatev1.Scan
		bad  bool
	}{
		{"unset", &gatev1.Scan{Code: "BRT1:X"}, false},
		{"1970", scan(0, 0), false},
		{"first instant", scan(minTimestamp, 0), false},
		{"last instant", scan(maxTimestamp, 999_999_999), false},
		{"before year 1", scan(minTimestamp-1, 0), true},
		{"beyond PostgreSQL", scan(-1e12, 0), true},
		{"after year 9999", scan(maxTimestamp+1, 0), true},
		{"negative nanos", scan(0, -1), true},
		{"a second of nanos", scan(0, 1e9), true},
	} {
		msg := &gatev1.SyncCheckInsRequest{Scans: []*gatev1.Scan{{Code: "BRT1:Y"}, tc.at}}
		var want []string
		if tc.bad {
			want = []string{"scans[1].scanned_at " + RuleValidTimestamp}
		}
		if got := violations(t, msg); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", tc.name, got, want)
		}
	}
}

// TestViolationsAreCapped: a list of many items may break a rule in each
// (500 scans, each without its code and with a NUL), and each used to be
// answered. The first MaxViolations are kept, and one more counts the
// rest; the text rule's violations count too.
func TestViolationsAreCapped(t *testing.T) {
	t.Parallel()
	scans := make([]*gatev1.Scan, 500)
	for i := range scans {
		scans[i] = &gatev1.Scan{Gate: "\x00"} // no code (required), a NUL
	}
	err := newValidator().Validate(&gatev1.SyncCheckInsRequest{Scans: scans})
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != MaxViolations+1 {
		t.Fatalf("want %d violations: %.500v", MaxViolations+1, err)
	}
	// 500 required codes + 500 NULs.
	if last := ve.Violations[MaxViolations].Proto; last.GetRuleId() != RuleMoreViolations || last.GetField() != nil ||
		last.GetMessage() != "900 more violations not listed" {
		t.Errorf("last violation %v", last)
	}
	if n := len(err.Error()); n > 16<<10 {
		t.Errorf("the error's message is %d bytes", n)
	}
	// At the cap nothing is left out.
	scans = scans[:MaxViolations]
	for _, s := range scans {
		s.Gate = ""
	}
	if got := violations(t, &gatev1.SyncCheckInsRequest{Scans: scans}); len(got) != MaxViolations || slices.Contains(got, " "+RuleMoreViolations) {
		t.Errorf("%d scans without a code: %d violations", MaxViolations, len(got))
	}
}

// TestALongListIsAnsweredByItsLength: a list past its max_items is refused
// for its length alone, its items unchecked (protovalidate checked each of
// 300,001 items of a list of at most 20: 0.37 s of CPU for a 1 MB body);
// a list within it is checked item by item.
func TestALongListIsAnsweredByItsLength(t *testing.T) {
	t.Parallel()
	long := &gatev1.CreateDeviceRequest{Name: "\x00", EventIds: make([]string, 300_001)}
	if got := violations(t, long); !slices.Equal(got, []string{"event_ids " + RuleMaxItems}) {
		t.Errorf("300,001 empty ids: %q, want the list's length alone", got)
	}
	// At its max_items, each item and the other fields are checked.
	if got := violations(t, &gatev1.CreateDeviceRequest{Name: "\x00", EventIds: make([]string, 20)}); len(got) != 22 {
		t.Errorf("20 empty ids: %q, want 20 items, unique and the name", got)
	}
}
