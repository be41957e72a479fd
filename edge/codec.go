package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Edge-only error codes: failures of the HTTP exchange itself, which no
// service returns (so they are not part of errs' domain vocabulary).
const (
	codeMethodNotAllowed     errs.Code = "METHOD_NOT_ALLOWED"
	codePayloadTooLarge      errs.Code = "PAYLOAD_TOO_LARGE"
	codeHeadersTooLarge      errs.Code = "HEADERS_TOO_LARGE"
	codeUnsupportedMediaType errs.Code = "UNSUPPORTED_MEDIA_TYPE"
	codeNotImplemented       errs.Code = "NOT_IMPLEMENTED"
)

// edgeStatus is the HTTP status of the edge-only codes.
var edgeStatus = map[errs.Code]int{
	codeMethodNotAllowed:     405,
	codePayloadTooLarge:      413,
	codeHeadersTooLarge:      431,
	codeUnsupportedMediaType: 415,
	codeNotImplemented:       501,
}

// httpStatus is the status the edge answers for code.
func httpStatus(code errs.Code) int {
	if s, ok := edgeStatus[code]; ok {
		return s
	}
	return code.HTTPStatus()
}

// codeForStatus names an HTTP status the edge did not produce itself (the
// transcoder's plain-text errors) with the closest code of the vocabulary.
func codeForStatus(status int) errs.Code {
	switch status {
	case 400:
		return errs.Validation
	case 401:
		return errs.Unauthorized
	case 403:
		return errs.Forbidden
	case 404:
		return errs.NotFound
	case 405:
		return codeMethodNotAllowed
	case 409:
		return errs.Conflict
	case 413:
		return codePayloadTooLarge
	case 415:
		return codeUnsupportedMediaType
	case 429:
		return errs.RateLimited
	case 431:
		return codeHeadersTooLarge
	case 501:
		return codeNotImplemented
	case 502, 503, 504:
		return errs.ServiceUnavailable
	}
	if status >= 500 {
		return errs.Internal
	}
	return errs.Validation
}

// Envelope shapes of proto/README.md.
const (
	envAsIs   = iota // data is the whole response
	envSingle        // data is the response's only field, a message
	envList          // data is the only repeated field, meta is meta
)

type envelope struct {
	kind int
	data *fieldPlan
	meta *fieldPlan
}

// classify decides the envelope of a response type once, at startup.
func classify(mp *msgPlan) envelope {
	var list, meta, msgs []*fieldPlan
	for i := range mp.fields {
		f := &mp.fields[i]
		switch {
		case f.fd.IsList():
			list = append(list, f)
		case f.fd.Name() == "meta" && f.fd.Message() != nil && f.fd.Message().FullName() == pageMetaName:
			meta = append(meta, f)
		case f.fd.Message() != nil && !f.fd.IsMap():
			msgs = append(msgs, f)
		}
	}
	switch n := len(mp.fields); {
	case n == 2 && len(list) == 1 && len(meta) == 1:
		return envelope{kind: envList, data: list[0], meta: meta[0]}
	case n == 1 && len(msgs) == 1:
		return envelope{kind: envSingle, data: msgs[0]}
	}
	return envelope{kind: envAsIs}
}

var pageMetaName = (&commonv1.PageMeta{}).ProtoReflect().Descriptor().FullName()

// codec is the transcoder's "json" codec, facing the public clients only
// (the services get binary protobuf): it reads requests as protojson plus
// short enum names, and writes every answer in the envelope, errors included
// (the transcoder encodes a REST error as a google.rpc.Status through this
// codec).
type codec struct {
	plans     *plans
	envelopes map[protoreflect.FullName]envelope
	unmarshal protojson.UnmarshalOptions
	fields    vanguard.JSONCodec
}

var _ vanguard.RESTCodec = (*codec)(nil)

func newCodec(p *plans, envelopes map[protoreflect.FullName]envelope) *codec {
	return &codec{
		plans:     p,
		envelopes: envelopes,
		unmarshal: protojson.UnmarshalOptions{DiscardUnknown: true},
		fields: vanguard.JSONCodec{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		},
	}
}

// Name implements vanguard.Codec.
func (c *codec) Name() string { return vanguard.CodecJSON }

const successPrefix = `{"success":true,"data":`

// MarshalAppend writes a response (or a REST error status) in the envelope.
func (c *codec) MarshalAppend(b []byte, msg proto.Message) ([]byte, error) {
	if st, ok := msg.(*status.Status); ok {
		e := errorFromStatus(st)
		return appendErrorEnvelope(b, e.Code, e.Message, e.details), nil
	}
	m := msg.ProtoReflect()
	mp, ok := c.plans.msgs[m.Descriptor().FullName()]
	if !ok {
		// A type the edge did not plan for (not reachable from a public
		// route): plain protojson rather than failing the call.
		b = append(b, successPrefix...)
		b, err := c.fields.MarshalOptions.MarshalAppend(b, msg)
		return append(b, '}'), err
	}
	env := c.envelopes[mp.desc.FullName()]
	b = append(b, successPrefix...)
	var err error
	switch env.kind {
	case envList:
		if b, err = appendField(b, m, env.data); err != nil {
			return nil, err
		}
		b = append(b, `,"meta":`...)
		b, err = appendField(b, m, env.meta)
	case envSingle:
		b, err = appendField(b, m, env.data)
	default:
		b, err = appendMessage(b, m, mp)
	}
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// Unmarshal reads a request body.
func (c *codec) Unmarshal(data []byte, msg proto.Message) error {
	// A UTF-8 byte order mark, which some Windows tools write: JSON
	// readers may ignore it (RFC 8259, 8.1), and this one does.
	data = bytes.TrimPrefix(data, utf8BOM)
	if mp, ok := c.plans.msgs[msg.ProtoReflect().Descriptor().FullName()]; ok && mp.hasEnum {
		data = rewriteEnumsIn(data, mp)
	}
	if err := c.unmarshal.Unmarshal(data, msg); err != nil {
		return c.decodeError(data, msg.ProtoReflect().Descriptor(), err)
	}
	return nil
}

// loneSurrogate returns the first \u escape of data that is half of a
// UTF-16 surrogate pair without its other half ("\udcff"), or "".
func loneSurrogate(data []byte) string {
	code := func(i int) (rune, bool) { // the \uXXXX at data[i:], if any
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		r, ok := code(i)
		if !ok {
			i++ // another escape: skip its character
			continue
		}
		if utf16.IsSurrogate(r) {
			if low, ok := code(i + 6); ok && utf16.DecodeRune(r, low) != utf8.RuneError {
				i += 11
				continue
			}
			return string(data[i : i+6])
		}
		i += 5
	}
	return ""
}

// decodeError is the 400 of a body protojson could not read. When the
// error is about one field's value, it names the field (the path at the
// error's position: protojson's message gives only a scalar's own name, and
// no name for a well-known type's value) and what the value must be, as a
// protovalidate violation does; else it is protojson's message (a syntax
// error).
func (c *codec) decodeError(data []byte, md protoreflect.MessageDescriptor, err error) error {
	text := err.Error()
	field, rule := fieldAtError(data, text), "type"
	if field == "" {
		field, rule = decodeErrorField(text)
	}
	if field == "" {
		// InvalidArgument, so the client reads VALIDATION_ERROR (400), not
		// the transcoder's default INTERNAL_ERROR. protojson's "proto: "
		// prefix (its space at random a no-break one) means nothing to a
		// client.
		if rest, ok := strings.CutPrefix(text, "proto:"); ok {
			_, size := utf8.DecodeRuneInString(rest)
			text = rest[size:]
		}
		if esc := loneSurrogate(data); esc != "" {
			// protojson's word for it may be "unexpected EOF", of a body
			// that ends where it should.
			text = "the escape " + esc + " is half of a UTF-16 surrogate pair, not a character"
		}
		return connect.NewError(connect.CodeInvalidArgument, errors.New("the body is not JSON of this request: "+text))
	}
	if duplicateError.MatchString(text) {
		rule = "unique"
	}
	say := "must be given once"
	if rule == "type" {
		say = text
		f := planAt(c.plans.msgs[md.FullName()], field)
		if f != nil {
			say = mustBe(f.fd, f.enum)
			if f.fd.IsList() && !strings.HasSuffix(field, "]") {
				say = "must be an array"
			}
		}
		if esc := loneSurrogate(data); esc != "" && f != nil && f.fd.Kind() == protoreflect.StringKind {
			// A string it is, but not one of characters.
			say, rule = "must not hold "+esc+", half of a UTF-16 surrogate pair, not a character", "string.valid_utf8"
		}
	}
	return errs.Connect(errs.New(errs.Validation, "invalid input: "+field,
		"fields", []any{map[string]any{"field": field, "message": say, "rule": rule}}))
}

// planAt is the plan of the field at path ("scans[1].scanned_at") under mp,
// nil when there is none.
func planAt(mp *msgPlan, path string) *fieldPlan {
	var f *fieldPlan
	for part := range strings.SplitSeq(path, ".") {
		if mp == nil {
			return nil
		}
		name, _, _ := strings.Cut(part, "[")
		if f = fieldNamed(mp, name); f == nil {
			return nil
		}
		mp = f.msg
	}
	return f
}

// errorPosition is the position protojson gives an error (a value it could
// not read, or a syntax error): line and column (in runes), 1-based. Its
// "proto: " has a space or a no-break space, at random, so that no one
// matches the text exactly; hence the dot.
var errorPosition = regexp.MustCompile(`^proto:.(?:syntax error )?\(line (\d+):(\d+)\): `)

// fieldAtError names the field (as protovalidate's path: sale_start_at,
// scans[2].scanned_at) whose value is at the position of protojson's error
// msg in data (a value of the wrong type, or a syntax error such as `{`
// where a timestamp goes); "" when there is none (a position between
// values, or before the body's first).
func fieldAtError(data []byte, msg string) string {
	m := errorPosition.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return ""
		}
		off += i + 1
	}
	for ; col > 1 && off < len(data); col-- {
		_, n := utf8.DecodeRune(data[off:])
		off += n
	}
	// Walk the tokens to the value that ends past off, keeping the path.
	type frame struct {
		obj     bool
		wantKey bool
		key     string
		index   int
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
			continue
		}
		n := len(stack)
		if n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].wantKey = false
			continue
		}
		if n > 0 && !stack[n-1].obj {
			stack[n-1].index++
		}
		if int(dec.InputOffset()) > off {
			var b strings.Builder
			for i, f := range stack {
				switch {
				case !f.obj:
					b.WriteString("[" + strconv.Itoa(f.index) + "]")
				case i > 0:
					b.WriteString("." + protoName(f.key))
				default:
					b.WriteString(protoName(f.key))
				}
			}
			return b.String()
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{index: -1})
		default:
			if n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
		}
	}
}

// MarshalAppendField implements vanguard.RESTCodec (response_body rules;
// none of the contracts uses one today).
func (c *codec) MarshalAppendField(b []byte, msg proto.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	return c.fields.MarshalAppendField(b, msg, fd)
}

// UnmarshalField implements vanguard.RESTCodec (body rules naming a field).
func (c *codec) UnmarshalField(data []byte, msg proto.Message, fd protoreflect.FieldDescriptor) error {
	return c.fields.UnmarshalField(data, msg, fd)
}

// apiError is an error answer of the edge.
type apiError struct {
	errs.Error
	details []byte // a JSON object; nil means {}
}

// errorFromStatus maps the error the transcoder hands its codec (a
// service's error, or its own) to the public code, as errorFromConnect.
func errorFromStatus(st *status.Status) apiError {
	ce := connect.NewError(connect.Code(st.GetCode()), errors.New(st.GetMessage()))
	for _, a := range st.GetDetails() {
		if d, err := connect.NewErrorDetail(a); err == nil {
			ce.AddDetail(d)
		}
	}
	return errorFromConnect(ce)
}

// errorFromConnect maps the error a service returned to the public code:
// the service's ErrorDetail when present (errs.FromConnect's rule),
// protovalidate violations as VALIDATION_ERROR with the offending fields,
// Unimplemented as NOT_IMPLEMENTED, else the Connect code's fallback.
func errorFromConnect(ce *connect.Error) apiError {
	var violations *validate.Violations
	hasDetail := false
	for _, d := range ce.Details() {
		switch d.Type() {
		case "bookingrush.common.v1.ErrorDetail":
			hasDetail = true
		case "buf.validate.Violations":
			v := new(validate.Violations)
			if proto.Unmarshal(d.Bytes(), v) == nil {
				violations = v
			}
		}
	}
	e := errs.FromConnect(ce)
	out := apiError{Error: *e}
	switch {
	case violations != nil && (!hasDetail || e.Code == errs.Validation):
		out.Code = errs.Validation
		out.Message, out.details = violationDetails(violations)
	case !hasDetail && ce.Code() == connect.CodeUnimplemented:
		out.Code, out.Message = codeNotImplemented, ce.Message()
	case !hasDetail && ce.Code() == connect.CodeInvalidArgument:
		// A body or query value the transcoder could not decode: name
		// the field, as validation does, when the decoder did.
		if field, rule := decodeErrorField(ce.Message()); field != "" {
			out.details = fieldDetails(field, ce.Message(), rule)
		}
	case len(e.Details) > 0:
		if d, err := detailsJSON(e.Details); err == nil {
			out.details = d
		}
	}
	return out
}

// Decoding errors that name a field: the transcoder's for a query value
// (`invalid parameter "page" value for type "int32": abc`) and protojson's
// for a body (`invalid value for int32 field maxPerUser: "x"`, `duplicate
// field "email"`), which names the JSON name.
var (
	queryParamError = regexp.MustCompile(`^invalid parameter "([A-Za-z0-9_.]+)"`)
	bodyFieldError  = regexp.MustCompile(`invalid value for [a-zA-Z0-9_.]+ field ([A-Za-z0-9_]+):`)
	duplicateError  = regexp.MustCompile(`duplicate field "([A-Za-z0-9_]+)"`)
)

// decodeErrorField returns the field (proto name) and the rule of a
// decoding error, "" when the message names none.
func decodeErrorField(msg string) (field, rule string) {
	if m := queryParamError.FindStringSubmatch(msg); m != nil {
		return protoName(m[1]), "type"
	}
	if m := bodyFieldError.FindStringSubmatch(msg); m != nil {
		return protoName(m[1]), "type"
	}
	if m := duplicateError.FindStringSubmatch(msg); m != nil {
		return protoName(m[1]), "unique"
	}
	return "", ""
}

// protoName turns a JSON field name (maxPerUser) back into the proto name
// the API writes (max_per_user); proto names are lower_snake_case (buf
// lint), so the mapping is mechanical. A proto name is left as it is.
func protoName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// fieldDetails is the details of one field's error:
// {"fields":[{"field","message","rule"}]}.
func fieldDetails(field, message, rule string) []byte {
	b := appendFieldDetail([]byte(`{"fields":[`), field, message, rule)
	return append(b, "]}"...)
}

// appendFieldDetail writes {"field","message","rule"}.
func appendFieldDetail(b []byte, field, message, rule string) []byte {
	b = append(b, `{"field":`...)
	b = appendString(b, field)
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	b = append(b, `,"rule":`...)
	b = appendString(b, rule)
	return append(b, '}')
}

// violationDetails lists protovalidate's violations as
// {"fields":[{"field":"quantity","message":"...","rule":"int32.gt"}]}.
func violationDetails(v *validate.Violations) (string, []byte) {
	b := []byte(`{"fields":[`)
	names := make([]string, 0, len(v.GetViolations()))
	for i, viol := range v.GetViolations() {
		if i > 0 {
			b = append(b, ',')
		}
		field := protovalidate.FieldPathString(viol.GetField())
		if field != "" {
			names = append(names, field)
		} else {
			names = append(names, viol.GetMessage()) // a rule across fields
		}
		b = appendFieldDetail(b, field, viol.GetMessage(), viol.GetRuleId())
	}
	b = append(b, "]}"...)
	return "invalid input: " + strings.Join(names, ", "), b
}
