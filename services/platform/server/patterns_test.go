package server

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	_ "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
)

// contractMessages calls f with every message of the contracts imported
// above.
func contractMessages(f func(protoreflect.MessageDescriptor)) {
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if desc := mt.Descriptor(); strings.HasPrefix(string(desc.FullName()), "bookingrush.") {
			f(desc)
		}
		return true
	})
}

// TestEveryPatternHasWords keeps PatternMessages whole: every
// string.pattern of the contracts (a field's, a list item's, a map key's or
// value's) is said in words to whoever breaks it.
func TestEveryPatternHasWords(t *testing.T) {
	t.Parallel()
	seen := 0
	check := func(fd protoreflect.FieldDescriptor, r *validate.StringRules) {
		p := r.GetPattern()
		if p == "" {
			return
		}
		seen++
		if _, ok := PatternMessages[p]; !ok {
			t.Errorf("%s: the pattern %q has no words in PatternMessages", fd.FullName(), p)
		}
	}
	contractMessages(func(desc protoreflect.MessageDescriptor) {
		for i := range desc.Fields().Len() {
			fd := desc.Fields().Get(i)
			r, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
			check(fd, r.GetString())
			check(fd, r.GetRepeated().GetItems().GetString())
			check(fd, r.GetMap().GetKeys().GetString())
			check(fd, r.GetMap().GetValues().GetString())
		}
	})
	if seen < 24 {
		t.Errorf("found %d patterns, want at least 24: is every contract imported?", seen)
	}
}

// TestPatternViolationInWords: the rule id stays string.pattern, the message
// is the words.
func TestPatternViolationInWords(t *testing.T) {
	t.Parallel()
	err := newValidator().Validate(&catalogv1.CreateZoneRequest{ShowId: "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", Name: "Floor", Price: "$49.90", TotalSeats: 10})
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 {
		t.Fatalf("want one violation, got %v", err)
	}
	v := ve.Violations[0].Proto
	if v.GetRuleId() != "string.pattern" || v.GetMessage() != PatternMessages[`^[0-9]{1,7}(\.[0-9]{1,2})?$`] {
		t.Fatalf("violation %v", v)
	}
}

// TestEveryMessageRuleHasAField keeps CrossFieldRules whole: every
// message-level rule of the contracts names a field of its message.
func TestEveryMessageRuleHasAField(t *testing.T) {
	t.Parallel()
	seen := 0
	contractMessages(func(desc protoreflect.MessageDescriptor) {
		r, _ := proto.GetExtension(desc.Options(), validate.E_Message).(*validate.MessageRules)
		for _, c := range r.GetCel() {
			seen++
			name, ok := CrossFieldRules[c.GetId()]
			if !ok {
				t.Errorf("%s: the rule %q names no field in CrossFieldRules", desc.FullName(), c.GetId())
				continue
			}
			if desc.Fields().ByName(protoreflect.Name(name)) == nil {
				t.Errorf("%s: the rule %q names %q, which it does not have", desc.FullName(), c.GetId(), name)
			}
		}
	})
	if seen < 6 {
		t.Errorf("found %d message rules, want at least 6: is every contract imported?", seen)
	}
}

// TestCrossFieldViolationNamesItsField: a show that ends before it starts
// is refused on ends_at, with the rule's id and message.
func TestCrossFieldViolationNamesItsField(t *testing.T) {
	t.Parallel()
	now := time.Now()
	got := violations(t, &catalogv1.CreateShowRequest{
		EventId:  "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
		ShowDate: timestamppb.New(now.Add(48 * time.Hour)),
		EndsAt:   timestamppb.New(now.Add(24 * time.Hour)),
	})
	if !slices.Equal(got, []string{"ends_at create_show.ends_at"}) {
		t.Fatalf("violations %v", got)
	}
}
