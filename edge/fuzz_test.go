package edge

// Native fuzz targets for what the edge decodes itself: JSON bodies (the
// codec, with its enum rewrite), query strings and paths (request.go), and
// what it writes from caller input (JSON strings, error envelopes). Without
// -fuzz, `go test` runs each target on its seed corpus (the f.Add calls and
// testdata/fuzz/<target>); to search for new inputs, one target at a time:
//
//	go test ./edge -run '^$' -fuzz '^FuzzJSONBody$' -fuzztime 2m
//
// Every failure go test finds is written to testdata/fuzz/<target>/ and
// belongs in the repository: it stays a regression test.

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

var fuzzTable = sync.OnceValues(newRouteTable)

func table(t testing.TB) *routeTable {
	rt, err := fuzzTable()
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// allRoutes lists every route of the table in a fixed order.
func allRoutes(t testing.TB) []*route {
	rt := table(t)
	var out []*route
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		out = append(out, rt.routes[m]...)
	}
	return out
}

// requestTypes lists the request message of every public RPC, sorted.
func requestTypes() []protoreflect.MessageDescriptor {
	seen := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	for _, sd := range Services {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i).Input()
			seen[md.FullName()] = md
		}
	}
	out := make([]protoreflect.MessageDescriptor, 0, len(seen))
	for _, md := range seen {
		out = append(out, md)
	}
	slices.SortFunc(out, func(a, b protoreflect.MessageDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	return out
}

func newMessage(t *testing.T, md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		t.Fatal(err)
	}
	return mt.New().Interface()
}

// FuzzJSONBody decodes any bytes as the body of any request type: the
// codec either answers an InvalidArgument error (400 for the caller) or a
// message the transcoder can encode in protobuf, which the edge can write
// back as valid JSON.
func FuzzJSONBody(f *testing.F) {
	types := requestTypes()
	for i := range types {
		f.Add(uint8(i), []byte(`{}`))
	}
	for i, s := range []string{`null`, `[]`, `"x"`, `{"page":1,"per_page":20}`, `{"status":"published"}`,
		`{"status":"EVENT_STATUS_DRAFT"}`, `{"role":"Organizer"}`, `{"quantity":1e400}`, `{"quantity":"1"}`,
		`{"full_name":"a\u0000b"}`, "{\"full_name\":\"a\xffb\"}", `{"show_date":"2030-13-01T00:00:00Z"}`,
		`{"price":"49.90","total_seats":-1}`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`, `{"status":{"status":"x"}}`,
		`{"statuses":["reserved","RESERVED",3]}`, `{"event_id":"` + strings.Repeat("9", 400) + `"}`} {
		f.Add(uint8(i*7), []byte(s))
	}
	c := table(f).codec
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		msg := newMessage(t, types[int(which)%len(types)])
		if err := c.Unmarshal(data, msg); err != nil {
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
				t.Fatalf("%q: error %v is not INVALID_ARGUMENT", data, err)
			}
			return
		}
		if _, err := proto.Marshal(msg); err != nil {
			t.Fatalf("%q decoded into a message protobuf cannot encode: %v", data, err)
		}
		out, err := c.MarshalAppend(nil, msg)
		if err != nil || !json.Valid(out) {
			t.Fatalf("%q: written back as %q (%v), not JSON", data, out, err)
		}
	})
}

// FuzzEnumNames checks that every accepted spelling of every enum value
// (short, full, any case) decodes to that value, in a body and in a query
// string, and that anything else is refused rather than guessed.
func FuzzEnumNames(f *testing.F) {
	for _, s := range []string{"published", "PUBLISHED", "Event_Status_Published", "draft", "organizer", "ROLE_ADMIN",
		"reserved", "unspecified", "", "2", "publishe", "published\x00", "publi\xffshed", "ſtatus", "K"} {
		f.Add(s)
	}
	rt := table(f)
	type enumField struct {
		msg   protoreflect.MessageDescriptor
		field protoreflect.FieldDescriptor
	}
	var fields []enumField
	for _, md := range requestTypes() {
		for i := range md.Fields().Len() {
			if fd := md.Fields().Get(i); fd.Kind() == protoreflect.EnumKind && !fd.IsList() && !fd.IsMap() {
				fields = append(fields, enumField{md, fd})
			}
		}
	}
	if len(fields) == 0 {
		f.Fatal("no request has an enum field")
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, ef := range fields {
			ep := rt.codec.plans.enums[ef.field.Enum().FullName()]
			full, known := ep.in[strings.ToLower(value)]
			body, _ := json.Marshal(map[string]string{string(ef.field.Name()): value})
			msg := newMessage(t, ef.msg)
			err := rt.codec.Unmarshal(body, msg)
			switch {
			case known && err != nil:
				t.Fatalf("%s %q: refused: %v", ef.field.FullName(), value, err)
			case known && msg.ProtoReflect().Get(ef.field).Enum() != ef.field.Enum().Values().ByName(protoreflect.Name(full)).Number():
				t.Fatalf("%s %q: decoded as %v, want %s", ef.field.FullName(), value, msg.ProtoReflect().Get(ef.field), full)
			case !known && err == nil && msg.ProtoReflect().Has(ef.field):
				t.Fatalf("%s %q: accepted as %v, which is none of its names", ef.field.FullName(), value, msg.ProtoReflect().Get(ef.field))
			}
		}
		// In a query string: the known spellings become the full name.
		for _, r := range allRoutes(t) {
			for name, p := range r.query {
				if p.enum == nil || name != p.field {
					continue
				}
				got := prepareQuery(t, r, url.Values{name: {value}}.Encode())
				if full, known := p.enum.in[strings.ToLower(value)]; known && got != nil && got.Get(name) != full {
					t.Fatalf("?%s=%q: rewritten as %q, want %q", name, value, got.Get(name), full)
				}
			}
		}
	})
}

// prepareQuery runs the edge's query rules for r on rawQuery and returns
// the query the transcoder would see, nil when the edge answered 400 (which
// it checks is the envelope).
func prepareQuery(t *testing.T, r *route, rawQuery string) url.Values {
	t.Helper()
	req := httptest.NewRequest(r.method, "/", nil)
	req.URL.Path = "/" + strings.Join(r.segments, "/")
	req.URL.RawQuery = rawQuery
	w := httptest.NewRecorder()
	out, ok := table(t).prepare(w, req, r, req.URL.Path)
	if !ok {
		var env struct {
			Success *bool `json:"success"`
			Error   struct{ Code string }
		}
		if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Success == nil || *env.Success || env.Error.Code != "VALIDATION_ERROR" {
			t.Fatalf("?%s: refused with %d %q, want 400 VALIDATION_ERROR in the envelope", rawQuery, w.Code, w.Body)
		}
		return nil
	}
	q, err := url.ParseQuery(out.URL.RawQuery)
	if err != nil {
		t.Fatalf("?%s: passed on as %q, which does not parse: %v", rawQuery, out.URL.RawQuery, err)
	}
	return q
}

// FuzzQueryString runs any query string through the rules of any route:
// what reaches the transcoder names only fields the route reads, is UTF-8,
// and does not change when the rules run again; or the edge answers 400.
func FuzzQueryString(f *testing.F) {
	routes := allRoutes(f)
	for i, s := range []string{"", "utm_source=newsletter", "_=1733212345678", "q=", "=x", "%zz=1&page=2", "page=1&page=2",
		"status=published", "status=PUBLISHED&category=rock", "category=%ff", "category=%00", "page.x=1", "meta.page=3",
		"from=2030-01-01T00:00:00Z", "per_page=99999999999999999999", "a=1;b=2", "&&&", "perPage=5", "event_id=" + strings.Repeat("%e2%82", 40)} {
		for j := range 3 { // on a few routes each, GET ones (first) included
			f.Add(uint8(i+j*len(routes)/3), s)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string) {
		r := routes[int(which)%len(routes)]
		q := prepareQuery(t, r, rawQuery)
		if q == nil {
			return
		}
		for name, values := range q {
			if _, ok := r.query[name]; !ok {
				t.Fatalf("?%s: %q reaches the transcoder, but %s %v reads no such parameter", rawQuery, name, r.method, r.segments)
			}
			for _, v := range values {
				if !utf8.ValidString(v) {
					t.Fatalf("?%s: %s=%q is not UTF-8", rawQuery, name, v)
				}
			}
		}
		if again := prepareQuery(t, r, q.Encode()); again == nil || again.Encode() != q.Encode() {
			t.Fatalf("?%s: not stable: %q, then %v", rawQuery, q.Encode(), again)
		}
	})
}

// FuzzPath matches any (escaped) path against every route and checks the
// matcher against the plain reading of a template (same number of segments,
// equal literals, a variable takes any segment, as in the transcoder), and
// that a matched path with a variable that is not UTF-8 once decoded is
// named.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"/api/v1/events", "/api/v1/events/", "/api/v1/events/rock-night", "/api/v1/events/%ff", "/api/v1/events/\xff",
		"/api/v1/events/a/shows", "/api/v1/events//shows", "//api/v1/events", "/api/v1/events/a:b", "/api/v1/bookings/pending",
		"/api/v1/admin/users/x/role", "/api/v1/admin/sagas/", "/api/v1/bookings/%25ff", "/api/v1/events/a%2Fb", "/api/v1/events/%zz", "api/v1/events", "", "/", "/api/v1/events/\x00", "/api/v1/shows/../zones"} {
		f.Add(s)
	}
	routes := allRoutes(f)
	f.Fuzz(func(t *testing.T, path string) {
		for _, r := range routes {
			got := r.matches(path)
			want := false
			if rest, ok := strings.CutPrefix(path, "/"); ok {
				segs := strings.Split(rest, "/")
				want = len(segs) == len(r.segments)
				for i := 0; want && i < len(segs); i++ {
					want = r.segments[i] == "" || segs[i] == r.segments[i]
				}
			}
			if got != want {
				t.Fatalf("%q against %v: matches %v, want %v", path, r.segments, got, want)
			}
			if got {
				valid := true
				for _, seg := range strings.Split(path[1:], "/") {
					v, err := url.PathUnescape(seg)
					valid = valid && err == nil && utf8.ValidString(v)
				}
				if bad := r.badVar(path); (bad == "") != valid {
					t.Fatalf("%q: badVar %q, but its segments' decoded UTF-8 validity is %v", path, bad, valid)
				}
			}
		}
		table(t).lookup(http.MethodGet, path)
	})
}

// FuzzJSONString checks the edge's JSON string writer, which writes what
// callers sent back to them (names, messages): always valid JSON, never raw
// markup characters, and the same text (invalid bytes as U+FFFD).
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<script>&amp;</script>", "\"\\/\b\f\n\r\t", "\x00\x1f\x7f", "\u2028\u2029", "a\xffb", "\xe2\x82", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		if !json.Valid(out) || strings.ContainsAny(string(out), "<>&") {
			t.Fatalf("%q written as %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		want := make([]rune, 0, len(s))
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			want = append(want, r)
			i += n
		}
		if back != string(want) {
			t.Fatalf("%q written as %s, read back as %q", s, out, back)
		}
	})
}

// FuzzErrorEnvelope writes an error the transcoder reports (any code, any
// message) and checks it is the envelope.
func FuzzErrorEnvelope(f *testing.F) {
	for _, s := range []string{"", "internal error", "invalid parameter \"page\": \xff", "</script>"} {
		f.Add(uint32(3), s)
		f.Add(uint32(13), s)
	}
	c := table(f).codec
	f.Fuzz(func(t *testing.T, code uint32, msg string) {
		out, err := c.MarshalAppend(nil, &status.Status{Code: int32(code % 32), Message: msg})
		var env struct {
			Success *bool `json:"success"`
			Error   struct {
				Code    string          `json:"code"`
				Message *string         `json:"message"`
				Details json.RawMessage `json:"details"`
			} `json:"error"`
		}
		if err != nil || json.Unmarshal(out, &env) != nil || env.Success == nil || *env.Success || env.Error.Code == "" ||
			env.Error.Message == nil || !strings.HasPrefix(string(env.Error.Details), "{") {
			t.Fatalf("code %d %q: %s (%v), not the error envelope", code, msg, out, err)
		}
	})
}
