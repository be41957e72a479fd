package edge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// What the edge settles about a request before the transcoder sees it, so
// that ordinary input never turns into a 5xx. The transcoder fails with an
// internal error (500) on a query parameter naming no field of the request
// (?utm_source=, a cache buster ?_=123), on a body sent to a route that
// takes none, and on a path or query value that is not UTF-8 (the string
// cannot be encoded in protobuf). So, for each route of the contracts:
//
//   - a query parameter the route does not read is dropped: browsers, CDNs
//     and marketing links add their own, and reads must not fail for them;
//   - the body of a route without one (GET, DELETE) is ignored, as a proxy
//     or a client library may send one;
//   - a path variable or query value that is not valid UTF-8 is a 400
//     VALIDATION_ERROR naming its field; control characters are refused by
//     the services, for every string of every request (server's text rule);
//   - short enum names in the query ("?status=published") become the full
//     value names the transcoder accepts;
//   - a Content-Type that is not UTF-8 is 415 (the transcoder copies it into
//     the request of a raw-body route, the Stripe webhook).
//
// Paths: the transcoder (vanguard v0.4) splits URL.Path into segments and
// percent-decodes each variable it captures, but net/http has decoded
// URL.Path already, so /bookings/%25ff reached the service as "\xff" (and
// /events/a%2Fb as two segments). The edge hands it the escaped path
// instead, and matches routes the same way: split the escaped path,
// decode each variable once.
//
// Requests that match no route are left to the transcoder (404, 405).

// route is one binding of a google.api.http annotation.
type route struct {
	method string
	// procedure is the RPC ("/pkg.Service/Method"), the metrics' route.
	procedure string
	// segments are the template's path segments, "" for a {variable}.
	segments []string
	// vars are the variables' field names, in path order.
	vars []string
	// body is the binding's body: "" (none), "*" (every field the path
	// does not carry) or the one field it names.
	body string
	// query maps every query parameter the route reads (proto and JSON
	// names, dotted for nested fields) to its field; empty when the body
	// carries every field.
	query map[string]queryParam
}

// queryParam is one field settable from the query string.
type queryParam struct {
	field string    // its proto path, for errors
	enum  *enumPlan // non-nil for enum fields
	fd    protoreflect.FieldDescriptor
}

// maxQueryDepth bounds the dotted paths of nested query parameters.
const maxQueryDepth = 3

// routesOf returns md's bindings (additional ones included); in is the
// plan of its request. A binding the edge cannot check (a verb, or a
// variable spanning segments such as {name=events/*}) is an error: it would
// reach the transcoder unchecked.
func routesOf(md protoreflect.MethodDescriptor, in *msgPlan) ([]*route, error) {
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return nil, nil
	}
	var out []*route
	for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		var method, template string
		switch p := b.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			method, template = http.MethodGet, p.Get
		case *annotations.HttpRule_Post:
			method, template = http.MethodPost, p.Post
		case *annotations.HttpRule_Put:
			method, template = http.MethodPut, p.Put
		case *annotations.HttpRule_Delete:
			method, template = http.MethodDelete, p.Delete
		case *annotations.HttpRule_Patch:
			method, template = http.MethodPatch, p.Patch
		default:
			return nil, fmt.Errorf("edge: %s: custom HTTP patterns are not supported", md.FullName())
		}
		r := &route{method: method, procedure: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()), body: b.GetBody(), segments: strings.Split(strings.TrimPrefix(template, "/"), "/")}
		bound := map[string]bool{b.GetBody(): true}
		for i, s := range r.segments {
			if !strings.HasPrefix(s, "{") {
				if strings.ContainsAny(s, "*:{}") {
					return nil, fmt.Errorf("edge: %s: path %q: only literal segments and {field} variables are supported", md.FullName(), template)
				}
				continue
			}
			name := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
			if strings.ContainsAny(name, "=*./{}") {
				return nil, fmt.Errorf("edge: %s: path %q: only {field} variables are supported", md.FullName(), template)
			}
			r.vars = append(r.vars, name)
			bound[name] = true
			r.segments[i] = ""
		}
		r.query = map[string]queryParam{}
		if b.GetBody() != "*" {
			addQueryParams(r.query, in, "", "", bound, 0)
		}
		out = append(out, r)
	}
	return out, nil
}

// addQueryParams adds mp's fields (under the prefixes) to q, as the
// transcoder resolves them: a leaf is a scalar, an enum or a well-known type
// with a scalar JSON form; other messages are entered. Fields bound by the
// path or the body are not query parameters.
func addQueryParams(q map[string]queryParam, mp *msgPlan, protoPrefix, jsonPrefix string, bound map[string]bool, depth int) {
	for i := range mp.fields {
		f := &mp.fields[i]
		name := string(f.fd.Name())
		if (depth == 0 && bound[name]) || f.fd.IsMap() {
			continue
		}
		pp, jp := protoPrefix+name, jsonPrefix+f.fd.JSONName()
		if f.msg != nil && !scalarWKT[f.msg.desc.FullName()] {
			if !f.msg.wkt && !f.fd.IsList() && depth < maxQueryDepth {
				addQueryParams(q, f.msg, pp+".", jp+".", bound, depth+1)
			}
			continue
		}
		p := queryParam{field: pp, enum: f.enum, fd: f.fd}
		q[pp], q[jp] = p, p
	}
}

// scalarWKT are the well-known types the transcoder reads from one query
// value.
var scalarWKT = map[protoreflect.FullName]bool{
	"google.protobuf.Timestamp": true, "google.protobuf.Duration": true, "google.protobuf.FieldMask": true,
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
}

// forTranscoder applies the rules above to r and returns the request to
// transcode: r itself, or a copy when something changed (the server's own
// *http.Request keeps its body and length, which it drains after the
// handler). ok is false after it answered an error itself; procedure then
// names the route that was matched.
func (rt *routeTable) forTranscoder(w http.ResponseWriter, r *http.Request) (_ *http.Request, procedure string, ok bool) {
	escaped := r.URL.EscapedPath()
	if route := rt.lookup(r.Method, escaped); route != nil {
		if r, ok = rt.prepare(w, r, route, escaped); !ok {
			return nil, route.procedure, false
		}
	}
	if escaped != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = escaped, ""
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	return r, "", true
}

// lookup returns the route of method and path (escaped), nil when none
// matches. A literal segment wins over a variable, as in the transcoder:
// "/bookings/pending" is ListPendingBookings, not GetBooking of the
// booking "pending" (whose query rules dropped the page parameters).
func (rt *routeTable) lookup(method, path string) *route {
	var best *route
	most := -1
	for _, r := range rt.routes[method] {
		if !r.matches(path) {
			continue
		}
		literal := 0
		for _, s := range r.segments {
			if s != "" {
				literal++
			}
		}
		if literal > most {
			best, most = r, literal
		}
	}
	return best
}

// matches reports whether path (escaped) fits r's template the way the
// transcoder matches it: segment by segment, a variable taking any one
// segment, the empty one included ("/admin/sagas/" is GetSaga with an
// empty id, which validation refuses).
func (r *route) matches(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	rest := path[1:]
	for i, s := range r.segments {
		seg, tail, more := strings.Cut(rest, "/")
		if (s != "" && seg != s) || more != (i < len(r.segments)-1) {
			return false
		}
		rest = tail
	}
	return true
}

// badVar names the first path variable of path (escaped, matched by r)
// whose value is not valid UTF-8 once decoded, "" when all are.
func (r *route) badVar(path string) string {
	rest, v := path[1:], 0
	for _, s := range r.segments {
		seg, tail, _ := strings.Cut(rest, "/")
		rest = tail
		if s != "" {
			continue
		}
		if value, err := url.PathUnescape(seg); err != nil || !utf8.ValidString(value) {
			return r.vars[v]
		}
		v++
	}
	return ""
}

// prepare applies the body and query rules of route to r; see
// forTranscoder.
func (rt *routeTable) prepare(w http.ResponseWriter, r *http.Request, route *route, escaped string) (_ *http.Request, ok bool) {
	if field := route.badVar(escaped); field != "" {
		writeInvalidText(w, field)
		return nil, false
	}
	if route.body != "" && !utf8.ValidString(r.Header.Get("Content-Type")) {
		// The transcoder copies it into the request of a raw-body route
		// (google.api.HttpBody), where it could not be encoded.
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "Content-Type is not UTF-8", nil)
		return nil, false
	}
	if ct := r.Header.Get("Content-Type"); route.body == "*" && ct != "application/json" && ct != "" {
		// The transcoder takes only this spelling (and none at all, as
		// it is: no copy of the request for it).
		if !jsonBody(w, ct) {
			return nil, false
		}
		r = r.Clone(r.Context())
		r.Header.Set("Content-Type", "application/json")
	}
	if route.body == "" && r.Body != nil && r.Body != http.NoBody {
		// Ignored (documented): nothing of this route comes from a body.
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = http.NoBody, 0
		for _, h := range []string{"Content-Type", "Content-Encoding", "Content-Length", "Transfer-Encoding"} {
			delete(r.Header, h)
		}
	}
	if r.URL.RawQuery == "" {
		return r, true
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	changed := err != nil // pairs with broken escapes are dropped
	for name, values := range q {
		p, ok := route.query[name]
		if !ok {
			delete(q, name)
			changed = true
			continue
		}
		for i, v := range values {
			if !utf8.ValidString(v) {
				writeInvalidText(w, p.field)
				return nil, false
			}
			if p.enum != nil {
				if full, ok := p.enum.in[strings.ToLower(v)]; ok && full != v {
					values[i], changed = full, true
				}
			}
			if want := p.refuses(values[i]); want != "" {
				writeError(w, http.StatusBadRequest, errs.Validation, "invalid input: "+p.field, fieldDetails(p.field, want, "type"))
				return nil, false
			}
		}
	}
	if changed {
		u := *r.URL
		u.RawQuery = q.Encode()
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	return r, true
}

// refuses says what a query value must be when the transcoder would not
// read it as the field's type (it reads each as JSON, a well-known type as
// a JSON string), "" when it would. The transcoder's own message names
// the JSON decoder's complaint ("invalid character 'm' looking for
// beginning of value"), not what to send.
func (p queryParam) refuses(v string) string {
	var err error
	switch p.fd.Kind() {
	case protoreflect.BoolKind:
		err = json.Unmarshal([]byte(v), new(bool))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		err = json.Unmarshal([]byte(v), new(int32))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		err = json.Unmarshal([]byte(v), new(int64))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		err = json.Unmarshal([]byte(v), new(uint32))
	case protoreflect.EnumKind:
		if p.fd.Enum().Values().ByName(protoreflect.Name(v)) == nil {
			err = json.Unmarshal([]byte(v), new(int32))
		}
	case protoreflect.MessageKind:
		if p.fd.Message().FullName() == "google.protobuf.Timestamp" {
			err = protojson.Unmarshal([]byte(strconv.Quote(v)), new(timestamppb.Timestamp))
		}
	}
	if err != nil {
		return mustBe(p.fd, p.enum)
	}
	return ""
}

// mustBe says what a value of fd must be, in the words of protovalidate's
// messages.
func mustBe(fd protoreflect.FieldDescriptor, enum *enumPlan) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "must be true or false"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "must be a whole number from -2147483648 to 2147483647"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "must be a whole number from 0 to 4294967295"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "must be a whole number"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "must be a number"
	case protoreflect.StringKind:
		return "must be a string"
	case protoreflect.BytesKind:
		return "must be base64"
	case protoreflect.EnumKind:
		return "must be one of " + strings.Join(enum.names(func(n protoreflect.EnumNumber) bool { return n != 0 }), ", ")
	}
	switch fd.Message().FullName() {
	case "google.protobuf.Timestamp":
		return "must be an RFC 3339 timestamp in years 1 to 9999, such as 2030-06-01T20:00:00Z"
	case "google.protobuf.Duration":
		return "must be a duration in seconds, such as 1.5s"
	}
	return "must be an object"
}

// writeInvalidText answers 400 for a path or query value of field that is
// not UTF-8, in the shape of the services' violations.
func writeInvalidText(w http.ResponseWriter, field string) {
	writeError(w, http.StatusBadRequest, errs.Validation, "invalid input: "+field, fieldDetails(field, "must be valid UTF-8", server.RuleValidUTF8))
}
