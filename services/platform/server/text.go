package server

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Rule ids of the text check, as they appear in a violation's rule_id (and
// the edge's details.fields[].rule).
const (
	RuleNoControlCharacters = "string.no_control_characters"
	RuleValidUTF8           = "string.valid_utf8"
	// RuleValidTimestamp refuses a google.protobuf.Timestamp outside the
	// range it is defined on (0001-01-01 to 9999-12-31 UTC, nanos within a
	// second).
	RuleValidTimestamp = "timestamp.valid"
)

// textValidator adds one rule to every string field of every request, on
// top of the protovalidate rules of the contracts: no control characters
// (U+0000 to U+001F but tab, line feed and carriage return; U+007F to
// U+009F) and valid UTF-8. PostgreSQL refuses a NUL in text (a 500 where
// the caller sent bad input), and no field of the API means to hold a
// control character; a rule per field in the protos would be forgotten on
// the next field. Likewise every google.protobuf.Timestamp of a request
// must be a valid one (RuleValidTimestamp): the JSON API cannot send
// another, but gRPC and Connect's binary can, and PostgreSQL refuses an
// instant far outside that range (a 500 again). Its violations join
// protovalidate's, so the caller gets one INVALID_ARGUMENT
// (VALIDATION_ERROR at the edge) naming every field.
type textValidator struct {
	next protovalidate.Validator
}

func newValidator() protovalidate.Validator {
	return textValidator{next: protovalidate.GlobalValidator}
}

// Validate implements protovalidate.Validator.
func (v textValidator) Validate(msg proto.Message, options ...protovalidate.ValidationOption) error {
	if ve := longLists(msg.ProtoReflect()); ve != nil {
		return ve
	}
	var bad []*protovalidate.Violation
	checkText(msg.ProtoReflect(), nil, &bad)
	err := v.next.Validate(msg, options...)
	var ve *protovalidate.ValidationError
	if errors.As(err, &ve) {
		sayPatterns(ve)
		placeCrossField(msg.ProtoReflect(), ve)
	}
	if len(bad) == 0 {
		if ve != nil {
			capViolations(ve)
		}
		return err
	}
	switch {
	case err == nil:
		ve = &protovalidate.ValidationError{Violations: bad}
	case ve != nil:
		ve.Violations = append(ve.Violations, bad...)
	default:
		return err // protovalidate itself failed: its error wins
	}
	capViolations(ve)
	return ve
}

// MaxViolations bounds the violations one request is answered with. Every
// item of a list is checked (protovalidate goes on past a list's
// max_items), so a 1 MB body of 300,000 empty items broke 300,000 rules:
// the service wrote each into the error's message and details (twice
// over, in Connect's JSON), and the edge answered 30-40 MB after 10 s of
// work, or a 500 when that outran edge.request-timeout. The first MaxViolations say what is wrong; one more, with no
// field and RuleMoreViolations, says how many were left out.
const MaxViolations = 100

// RuleMoreViolations is the rule id of the violation that stands for the
// violations beyond MaxViolations.
const RuleMoreViolations = "violations.more"

// capViolations keeps the first MaxViolations of ve and counts the rest.
func capViolations(ve *protovalidate.ValidationError) {
	n := len(ve.Violations)
	if n <= MaxViolations {
		return
	}
	more := &protovalidate.Violation{Proto: validate.Violation_builder{
		RuleId:  proto.String(RuleMoreViolations),
		Message: proto.String(fmt.Sprintf("%d more violations not listed", n-MaxViolations)),
	}.Build()}
	ve.Violations = append(ve.Violations[:MaxViolations:MaxViolations], more)
}

// step is one element of the path to a value, turned into a
// validate.FieldPathElement only when the value breaks the rule (the walk
// itself allocates nothing).
type step struct {
	fd     protoreflect.FieldDescriptor
	index  int // list index, or -1
	key    protoreflect.MapKey
	hasKey bool
}

// checkText appends a violation for every string of m (nested messages,
// lists and maps included) that breaks the text rule; path leads to m.
func checkText(m protoreflect.Message, path []step, bad *[]*protovalidate.Violation) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				checkValue(fd, l.Get(i), append(path, step{fd: fd, index: i}), bad)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				p := append(path, step{fd: fd, index: -1, key: k, hasKey: true})
				if fd.MapKey().Kind() == protoreflect.StringKind {
					checkString(k.String(), p, true, bad)
				}
				checkValue(fd.MapValue(), mv, p, bad)
				return true
			})
		default:
			checkValue(fd, v, append(path, step{fd: fd, index: -1}), bad)
		}
		return true
	})
}

// checkValue checks one value whose type is vd's.
func checkValue(vd protoreflect.FieldDescriptor, v protoreflect.Value, path []step, bad *[]*protovalidate.Violation) {
	switch vd.Kind() {
	case protoreflect.StringKind:
		checkString(v.String(), path, false, bad)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if m := v.Message(); m.Descriptor().FullName() == timestampName {
			checkTimestamp(m, path, bad)
		} else {
			checkText(m, path, bad)
		}
	}
}

// timestampName is google.protobuf.Timestamp's full name.
const timestampName = "google.protobuf.Timestamp"

// The range of a valid google.protobuf.Timestamp, in Unix seconds
// (timestamppb's CheckValid).
const (
	minTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
)

// checkTimestamp appends a violation when the Timestamp m is outside its
// valid range.
func checkTimestamp(m protoreflect.Message, path []step, bad *[]*protovalidate.Violation) {
	fields := m.Descriptor().Fields()
	secs := m.Get(fields.ByName("seconds")).Int()
	nanos := m.Get(fields.ByName("nanos")).Int()
	if secs >= minTimestamp && secs <= maxTimestamp && nanos >= 0 && nanos < 1e9 {
		return
	}
	*bad = append(*bad, &protovalidate.Violation{Proto: validate.Violation_builder{
		Field:   validate.FieldPath_builder{Elements: fieldPath(path)}.Build(),
		RuleId:  proto.String(RuleValidTimestamp),
		Message: proto.String("must be a valid time, from 0001-01-01 to 9999-12-31 UTC"),
	}.Build()})
}

func checkString(s string, path []step, forKey bool, bad *[]*protovalidate.Violation) {
	rule, msg := "", ""
	switch {
	case !utf8.ValidString(s):
		rule, msg = RuleValidUTF8, "must be valid UTF-8"
	case hasControl(s):
		rule, msg = RuleNoControlCharacters, "must not contain control characters"
	default:
		return
	}
	vb := validate.Violation_builder{
		Field:   validate.FieldPath_builder{Elements: fieldPath(path)}.Build(),
		RuleId:  proto.String(rule),
		Message: proto.String(msg),
	}
	if forKey {
		vb.ForKey = proto.Bool(true)
	}
	*bad = append(*bad, &protovalidate.Violation{Proto: vb.Build()})
}

// hasControl reports whether s holds a control character other than tab,
// line feed and carriage return (multi-line text is fine).
func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

// fieldPath is path as protovalidate writes it.
func fieldPath(path []step) []*validate.FieldPathElement {
	out := make([]*validate.FieldPathElement, len(path))
	for i, st := range path {
		b := validate.FieldPathElement_builder{
			FieldNumber: proto.Int32(int32(st.fd.Number())),
			FieldName:   proto.String(string(st.fd.Name())),
			FieldType:   descriptorpb.FieldDescriptorProto_Type(st.fd.Kind()).Enum(),
		}
		switch {
		case st.index >= 0:
			b.Index = proto.Uint64(uint64(st.index))
		case st.hasKey:
			setKey(&b, st.fd.MapKey(), st.key)
		}
		out[i] = b.Build()
	}
	return out
}

func setKey(b *validate.FieldPathElement_builder, kd protoreflect.FieldDescriptor, k protoreflect.MapKey) {
	b.KeyType = descriptorpb.FieldDescriptorProto_Type(kd.Kind()).Enum()
	switch kd.Kind() {
	case protoreflect.BoolKind:
		b.BoolKey = proto.Bool(k.Bool())
	case protoreflect.StringKind:
		b.StringKey = proto.String(k.String())
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		b.UintKey = proto.Uint64(k.Uint())
	default:
		b.IntKey = proto.Int64(k.Int())
	}
}
