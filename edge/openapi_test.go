package edge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openAPISpec is the edge's served OpenAPI document, compiled: every answer
// of the end-to-end API test is checked against the response its operation
// documents for the status (api.call).
type openAPISpec struct {
	*compiledSpec
	seen    sync.Mutex
	checked map[string]bool // "GET /api/v1/events 200"
	bodies  map[string]bool // "POST /api/v1/events": a request body checked
}

// compiledSpec is a document with its schemas compiled, shared by the tests
// whose edges serve the same document (compiling it took seconds of CPU
// under -race, for each).
type compiledSpec struct {
	paths map[string]map[string]struct {
		Responses   map[string]json.RawMessage
		RequestBody struct {
			Content map[string]struct{ Schema requestSchema }
		}
	}
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

// compiledSpecs are the documents compiled so far, by their text.
var compiledSpecs = struct {
	sync.Mutex
	byText map[string]*compiledSpec
}{byText: map[string]*compiledSpec{}}

const specURL = "https://edge.rush.test/openapi.json"

// loadOpenAPI fetches the document the edge serves, compiled (compileSpec)
// once for every test whose edge serves the same text.
func loadOpenAPI(t *testing.T, base string) *openAPISpec {
	t.Helper()
	res, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Cache-Control"), "public") || res.Header.Get("ETag") == "" {
		t.Fatalf("GET /api/v1/openapi.json: %d %v", res.StatusCode, res.Header)
	}
	compiledSpecs.Lock()
	defer compiledSpecs.Unlock()
	c, ok := compiledSpecs.byText[string(raw)]
	if !ok {
		c = compileSpec(t, raw)
		compiledSpecs.byText[string(raw)] = c
	}
	return &openAPISpec{compiledSpec: c, checked: map[string]bool{}, bodies: map[string]bool{}}
}

// compileSpec compiles every response schema of the document raw (a broken
// $ref fails here).
func compileSpec(t *testing.T, raw []byte) *compiledSpec {
	t.Helper()
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Responses   map[string]json.RawMessage
			RequestBody struct {
				Content map[string]struct{ Schema requestSchema }
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.OpenAPI != "3.1.0" || len(doc.Paths) < 30 {
		t.Fatalf("not an OpenAPI 3.1 document of the API (%v): %.300s", err, raw)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(specURL, inst); err != nil {
		t.Fatal(err)
	}
	s := &compiledSpec{paths: doc.Paths, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			for status, resp := range op.Responses {
				if bytes.Contains(resp, []byte(`"application/json"`)) {
					if _, err := s.schema(p, m, status); err != nil {
						t.Fatalf("%s %s %s: %v", m, p, status, err)
					}
				}
			}
		}
	}
	return s
}

// requestSchema is what a request body's schema says of its top level.
type requestSchema struct {
	Properties           map[string]map[string]any
	Required             []string
	AdditionalProperties *bool
}

// request is the documented body of an operation.
func (s *openAPISpec) request(method, tpl string) requestSchema {
	return s.paths[tpl][strings.ToLower(method)].RequestBody.Content["application/json"].Schema
}

func pointer(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return "#/" + strings.Join(parts, "/")
}

// schema compiles (once) the JSON body schema of an operation's response
// to status, or of its request body when status is "".
func (s *compiledSpec) schema(path, method, status string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := method + " " + path + " " + status
	if sch, ok := s.schemas[key]; ok {
		return sch, nil
	}
	at := []string{"paths", path, method, "requestBody", "content", "application/json", "schema"}
	if status != "" {
		at = []string{"paths", path, method, "responses", status, "content", "application/json", "schema"}
	}
	sch, err := s.compiler.Compile(specURL + pointer(at...))
	s.schemas[key] = sch
	return sch, err
}

// validate checks a JSON body against the schema of an operation's
// response to status (or of its request body, status "") and records it.
func (s *openAPISpec) validate(tpl, method, status string, body []byte) error {
	sch, err := s.schema(tpl, strings.ToLower(method), status)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return err
	}
	s.seen.Lock()
	if status == "" {
		s.bodies[method+" "+tpl] = true
	} else {
		s.checked[method+" "+tpl+" "+status] = true
	}
	s.seen.Unlock()
	return nil
}

// operation finds the documented path of a request path: the template
// whose literal segments match most (/bookings/pending before
// /bookings/{booking_id}).
func (s *openAPISpec) operation(method, path string) (string, bool) {
	segs := strings.Split(path, "/")
	best, score := "", -1
	for tpl, ops := range s.paths {
		if _, ok := ops[strings.ToLower(method)]; !ok {
			continue
		}
		ts := strings.Split(tpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		n := 0
		for i := range ts {
			switch {
			case ts[i] == segs[i]:
				n++
			case strings.HasPrefix(ts[i], "{"):
			default:
				n = -1
			}
			if n < 0 {
				break
			}
		}
		if n > score {
			best, score = tpl, n
		}
	}
	return best, score >= 0
}

// check validates one answer against its documented response.
func (s *openAPISpec) check(t *testing.T, method, rawURL string, status int, header http.Header, body []byte) {
	t.Helper()
	u, _ := url.Parse(rawURL)
	tpl, ok := s.operation(method, u.Path)
	if !ok {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: no operation in the OpenAPI document", method, u.Path)
		}
		return
	}
	st := fmt.Sprint(status)
	if _, ok := s.paths[tpl][strings.ToLower(method)].Responses[st]; !ok {
		t.Errorf("%s %s answered %d, which the document does not list", method, tpl, status)
		return
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && header.Get("Retry-After") == "" {
		t.Errorf("%s %s: %d without Retry-After", method, tpl, status)
	}
	if err := s.validate(tpl, method, st, body); err != nil {
		t.Errorf("%s %s answered %d not as documented: %v\n%s", method, tpl, status, err, body)
	}
}

// checkRequest validates a body the edge accepted (status < 300) against
// the request body its operation documents: the document may not refuse
// what the API takes.
func (s *openAPISpec) checkRequest(t *testing.T, method, rawURL string, status int, body []byte) {
	t.Helper()
	if body == nil || status >= 300 {
		return
	}
	u, _ := url.Parse(rawURL)
	tpl, ok := s.operation(method, u.Path)
	if !ok {
		return
	}
	if err := s.validate(tpl, method, "", body); err != nil {
		t.Errorf("%s %s took a body its document refuses: %v\n%s", method, tpl, err, body)
	}
}

// covered lists the operations and statuses checked so far.
func (s *openAPISpec) covered() []string {
	s.seen.Lock()
	defer s.seen.Unlock()
	out := make([]string, 0, len(s.checked))
	for k := range s.checked {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
