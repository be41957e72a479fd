package edge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bookingrush/rush/services/platform/server"
)

// The public JSON of a message is protojson's with three differences the
// contract asks for (proto/README.md): field names are the proto (snake_case)
// names, enum values are written lower case without their type prefix
// ("reserved" for BOOKING_STATUS_RESERVED), and every field is present
// (scalars with their zero value, lists as [], unset messages as null), so a
// client sees one shape per type. protojson has no hook for enum names, so
// the edge writes responses itself from plans computed once per message type
// at startup: the hot path walks protoreflect values, never descriptors.
//
// Input is protojson's (it accepts snake_case and camelCase, full enum names
// and numbers); for the request types that contain enums the body is first
// rewritten so the short lower-case enum names are accepted too.

// msgPlan is how to write one message type.
type msgPlan struct {
	desc   protoreflect.MessageDescriptor
	fields []fieldPlan
	// wkt marks google.protobuf.* types, written by protojson (their JSON
	// forms are special: Struct, Duration, wrappers...).
	wkt bool
	// hasEnum is true when the message or one it contains has an enum
	// field, i.e. when input needs the short-name rewrite.
	hasEnum bool
}

// fieldPlan is how to write one field.
type fieldPlan struct {
	fd   protoreflect.FieldDescriptor
	key  string // `"name":`
	enum *enumPlan
	msg  *msgPlan // for message fields and map values of message type
}

// enumPlan holds an enum's public names.
type enumPlan struct {
	// out maps a number to its quoted public name (`"reserved"`).
	out map[protoreflect.EnumNumber]string
	// in maps an accepted lower-case short name to the full value name.
	in map[string]string
}

// names are the public names of the numbers keep takes, sorted.
func (ep *enumPlan) names(keep func(protoreflect.EnumNumber) bool) []string {
	if ep == nil {
		return nil
	}
	var out []string
	for n, q := range ep.out {
		if keep(n) {
			u, _ := strconv.Unquote(q)
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// plans holds the plans of every message type the edge reads or writes;
// built once, read-only afterwards.
type plans struct {
	msgs  map[protoreflect.FullName]*msgPlan
	enums map[protoreflect.FullName]*enumPlan
}

func newPlans() *plans {
	return &plans{msgs: map[protoreflect.FullName]*msgPlan{}, enums: map[protoreflect.FullName]*enumPlan{}}
}

// message returns the plan of md, building it (and those of the types it
// contains) on first use. Only called at startup.
func (p *plans) message(md protoreflect.MessageDescriptor) *msgPlan {
	if mp, ok := p.msgs[md.FullName()]; ok {
		return mp
	}
	mp := &msgPlan{desc: md, wkt: strings.HasPrefix(string(md.FullName()), "google.protobuf.")}
	p.msgs[md.FullName()] = mp
	if mp.wkt {
		return mp
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := fieldPlan{fd: fd, key: strconv.Quote(string(fd.Name())) + ":"}
		vd := fd
		if fd.IsMap() {
			vd = fd.MapValue()
		}
		switch vd.Kind() {
		case protoreflect.EnumKind:
			f.enum = p.enum(vd.Enum())
			mp.hasEnum = true
		case protoreflect.MessageKind, protoreflect.GroupKind:
			f.msg = p.message(vd.Message())
		}
		mp.fields = append(mp.fields, f)
	}
	return mp
}

// finish propagates hasEnum through contained messages (cycles included).
func (p *plans) finish() {
	for changed := true; changed; {
		changed = false
		for _, mp := range p.msgs {
			if mp.hasEnum {
				continue
			}
			for _, f := range mp.fields {
				if f.msg != nil && f.msg.hasEnum {
					mp.hasEnum, changed = true, true
					break
				}
			}
		}
	}
}

func (p *plans) enum(ed protoreflect.EnumDescriptor) *enumPlan {
	if ep, ok := p.enums[ed.FullName()]; ok {
		return ep
	}
	ep := &enumPlan{out: map[protoreflect.EnumNumber]string{}, in: map[string]string{}}
	values := ed.Values()
	for i := range values.Len() {
		v := values.Get(i)
		full := string(v.Name())
		short := server.EnumValueWord(v)
		if _, dup := ep.out[v.Number()]; !dup { // aliases: the first name wins
			ep.out[v.Number()] = strconv.Quote(short)
		}
		ep.in[short] = full
		ep.in[strings.ToLower(full)] = full
	}
	p.enums[ed.FullName()] = ep
	return ep
}

// appendMessage writes m as a JSON object.
func appendMessage(b []byte, m protoreflect.Message, mp *msgPlan) ([]byte, error) {
	if mp.wkt {
		return appendWKT(b, m)
	}
	b = append(b, '{')
	for i := range mp.fields {
		f := &mp.fields[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		var err error
		if b, err = appendField(b, m, f); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendField(b []byte, m protoreflect.Message, f *fieldPlan) ([]byte, error) {
	fd := f.fd
	var err error
	switch {
	case fd.IsList():
		l := m.Get(fd).List()
		b = append(b, '[')
		for i := range l.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, l.Get(i), fd, f); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case fd.IsMap():
		return appendMap(b, m.Get(fd).Map(), f)
	case fd.HasPresence() && !m.Has(fd):
		return append(b, "null"...), nil
	}
	return appendValue(b, m.Get(fd), fd, f)
}

// appendMap is apart from appendField so that only map fields pay for the
// closure's captured (heap-allocated) variables.
func appendMap(b []byte, mv protoreflect.Map, f *fieldPlan) ([]byte, error) {
	var err error
	b = append(b, '{')
	first := true
	mv.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k.String())
		b = append(b, ':')
		b, err = appendValue(b, v, f.fd.MapValue(), f)
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor, f *fieldPlan) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// protojson writes 64-bit integers as strings (JavaScript numbers
		// lose precision above 2^53).
		b = append(b, '"')
		return append(strconv.AppendInt(b, v.Int(), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendUint(b, v.Uint(), 10), '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64), nil
	case protoreflect.StringKind:
		return appendString(b, v.String()), nil
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"'), nil
	case protoreflect.EnumKind:
		if name, ok := f.enum.out[v.Enum()]; ok {
			return append(b, name...), nil
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendMessage(b, v.Message(), f.msg)
	}
	return nil, fmt.Errorf("edge: cannot write field %s of kind %v", fd.FullName(), fd.Kind())
}

// appendWKT writes a well-known type: Timestamp directly (it is on the hot
// path: a booking carries five), the others through protojson.
func appendWKT(b []byte, m protoreflect.Message) ([]byte, error) {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		fields := m.Descriptor().Fields()
		secs := m.Get(fields.ByNumber(1)).Int()
		nanos := m.Get(fields.ByNumber(2)).Int()
		t := time.Unix(secs, nanos).UTC()
		b = append(b, '"')
		b = t.AppendFormat(b, "2006-01-02T15:04:05")
		switch {
		case nanos == 0:
		case nanos%1e6 == 0:
			b = t.AppendFormat(b, ".000")
		case nanos%1e3 == 0:
			b = t.AppendFormat(b, ".000000")
		default:
			b = t.AppendFormat(b, ".000000000")
		}
		return append(b, 'Z', '"'), nil
	}
	return protojson.MarshalOptions{}.MarshalAppend(b, m.Interface())
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. <, > and & are escaped too, so no
// value can be read as markup if a client puts it into HTML unescaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// rewriteEnumsIn returns data with every short enum name of mp's enum fields
// replaced by the full value name protojson accepts, and every name the enum
// does not have by false, which protojson refuses. Input that is not a
// JSON object is returned as is (protojson reports the error).
func rewriteEnumsIn(data []byte, mp *msgPlan) []byte {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil || v == nil {
		return data
	}
	if !rewriteObject(v, mp) {
		return data
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data
	}
	return out
}

// rewriteObject rewrites v (a JSON object of type mp) in place and reports
// whether anything changed.
func rewriteObject(v map[string]any, mp *msgPlan) bool {
	if mp == nil || !mp.hasEnum || mp.wkt {
		return false
	}
	changed := false
	for key, val := range v {
		f := mp.field(key)
		if f == nil || (f.enum == nil && f.msg == nil) {
			continue
		}
		switch {
		case f.fd.IsList():
			list, _ := val.([]any)
			for i, e := range list {
				if nv, ok := rewriteValue(e, f); ok {
					list[i], changed = nv, true
				}
			}
		case f.fd.IsMap():
			m, _ := val.(map[string]any)
			for k, e := range m {
				if nv, ok := rewriteValue(e, f); ok {
					m[k], changed = nv, true
				}
			}
		default:
			if nv, ok := rewriteValue(val, f); ok {
				v[key], changed = nv, true
			}
		}
	}
	return changed
}

func rewriteValue(val any, f *fieldPlan) (any, bool) {
	if f.enum != nil {
		s, ok := val.(string)
		if !ok {
			return nil, false
		}
		full, ok := f.enum.in[strings.ToLower(s)]
		if !ok {
			// A name the enum does not have: protojson, told to ignore
			// what it does not know, would leave the field unset without
			// a word. A value of the wrong type in its place makes it the
			// 400 naming the field and the names it takes (decodeError).
			return false, true
		}
		return full, full != s
	}
	obj, ok := val.(map[string]any)
	if !ok {
		return nil, false
	}
	return obj, rewriteObject(obj, f.msg)
}

// field finds a field by its proto or JSON name, as protojson does.
func (mp *msgPlan) field(name string) *fieldPlan {
	for i := range mp.fields {
		f := &mp.fields[i]
		if string(f.fd.Name()) == name || f.fd.JSONName() == name {
			return f
		}
	}
	return nil
}
