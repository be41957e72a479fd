package edge_test

import (
	"net/http"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bookingrush/rush/edge"
)

// publicRoute is one route of the public API, read from the contracts the
// way the edge reads them (every google.api.http annotation of
// edge.Services), so tests that walk the API never hand-list it.
type publicRoute struct {
	method string
	// template is the path with its {variables}.
	template string
	// vars are the fields the path fills, in order.
	vars []protoreflect.Name
	// body is the annotation's body: "*", a field name, or "" for none.
	body string
	md   protoreflect.MethodDescriptor
}

// procedure is the route's Connect procedure, "/pkg.Service/Method".
func (r publicRoute) procedure() string {
	return "/" + string(r.md.Parent().FullName()) + "/" + string(r.md.Name())
}

// mutating reports whether the route changes something (any method but GET).
func (r publicRoute) mutating() bool { return r.method != http.MethodGet }

// path fills the route's variables with values, in order.
func (r publicRoute) path(values ...string) string {
	i := 0
	return pathVar.ReplaceAllStringFunc(r.template, func(string) string {
		v := values[i%len(values)]
		i++
		return v
	})
}

var pathVar = regexp.MustCompile(`\{[^}]*\}`)

// publicRoutes lists every annotated RPC's routes (additional bindings
// included).
func publicRoutes() []publicRoute {
	var out []publicRoute
	for _, sd := range edge.Services {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			if rule == nil {
				continue
			}
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				pr := publicRoute{body: r.GetBody(), md: md}
				switch p := r.GetPattern().(type) {
				case *annotations.HttpRule_Get:
					pr.method, pr.template = http.MethodGet, p.Get
				case *annotations.HttpRule_Post:
					pr.method, pr.template = http.MethodPost, p.Post
				case *annotations.HttpRule_Put:
					pr.method, pr.template = http.MethodPut, p.Put
				case *annotations.HttpRule_Delete:
					pr.method, pr.template = http.MethodDelete, p.Delete
				case *annotations.HttpRule_Patch:
					pr.method, pr.template = http.MethodPatch, p.Patch
				default:
					continue
				}
				for _, v := range pathVar.FindAllString(pr.template, -1) {
					name, _, _ := strings.Cut(strings.Trim(v, "{}"), "=")
					pr.vars = append(pr.vars, protoreflect.Name(name))
				}
				out = append(out, pr)
			}
		}
	}
	return out
}
