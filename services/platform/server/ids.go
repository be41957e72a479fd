package server

import (
	"context"
	"strings"
	"sync"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// canonicalIDs writes every UUID of a request in lower case, as Postgres
// and every id the mesh makes are written, before anything reads it: a
// field whose rule is string.uuid (or whose items' is) is case-insensitive
// by that rule, and a client may send "7C9E6679-..." (Swift's uuidString
// does). Ids key Redis, caches, comparisons with stored ids and messages to
// other services as strings, so an upper-case id of a real event was another
// event there: a cancel sent with one cancelled an empty inventory and left
// the real one on sale. The fields are found once per message type from
// the contract's own rules. A field named slug takes an event's UUID in
// place of its slug (GetEvent, ListShows): a UUID there is lower-cased too,
// and a slug, lower-case by its rule, is left as it is.
var canonicalIDs connect.Interceptor = idInterceptor{}

type idInterceptor struct{}

func (idInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if m, ok := req.Any().(proto.Message); ok {
			canonical(m.ProtoReflect())
		}
		return next(ctx, req)
	}
}

func (idInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (idInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, idConn{conn})
	}
}

type idConn struct{ connect.StreamingHandlerConn }

func (c idConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	if m, ok := msg.(proto.Message); ok {
		canonical(m.ProtoReflect())
	}
	return nil
}

// idFields are a message type's fields that hold UUIDs, and its message
// fields whose types do.
type idFields struct {
	ids, slugs, lists, nested []protoreflect.FieldDescriptor
}

var idFieldsOf sync.Map // protoreflect.FullName -> *idFields (nil: none)

// canonical lower-cases the UUID fields of m and of the messages in it.
func canonical(m protoreflect.Message) {
	f := fieldsOf(m.Descriptor(), nil)
	if f == nil {
		return
	}
	for _, fd := range f.ids {
		if s := m.Get(fd).String(); hasUpper(s) {
			m.Set(fd, protoreflect.ValueOfString(strings.ToLower(s)))
		}
	}
	for _, fd := range f.slugs {
		if s := m.Get(fd).String(); hasUpper(s) && isUUID(s) {
			m.Set(fd, protoreflect.ValueOfString(strings.ToLower(s)))
		}
	}
	for _, fd := range f.lists {
		if !m.Has(fd) {
			continue
		}
		l := m.Mutable(fd).List()
		for i := range l.Len() {
			if s := l.Get(i).String(); hasUpper(s) {
				l.Set(i, protoreflect.ValueOfString(strings.ToLower(s)))
			}
		}
	}
	for _, fd := range f.nested {
		if !m.Has(fd) {
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for i := range l.Len() {
				canonical(l.Get(i).Message())
			}
			continue
		}
		canonical(m.Mutable(fd).Message())
	}
}

func hasUpper(s string) bool {
	for i := range len(s) {
		if s[i] >= 'A' && s[i] <= 'F' {
			return true
		}
	}
	return false
}

// isUUID reports whether s is a UUID in its hyphenated form, in any case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// fieldsOf finds (once) the UUID fields of md; nil when it has none, in it
// or in the messages it holds. visiting breaks recursive types.
func fieldsOf(md protoreflect.MessageDescriptor, visiting map[protoreflect.FullName]bool) *idFields {
	if f, ok := idFieldsOf.Load(md.FullName()); ok {
		return f.(*idFields)
	}
	if visiting[md.FullName()] || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil
	}
	if visiting == nil {
		visiting = map[protoreflect.FullName]bool{}
	}
	visiting[md.FullName()] = true
	f := new(idFields)
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			if fieldsOf(fd.Message(), visiting) != nil {
				f.nested = append(f.nested, fd)
			}
		case fd.Kind() == protoreflect.StringKind:
			r, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
			switch {
			case fd.IsList() && r.GetRepeated().GetItems().GetString().GetUuid():
				f.lists = append(f.lists, fd)
			case !fd.IsList() && r.GetString().GetUuid():
				f.ids = append(f.ids, fd)
			case !fd.IsList() && fd.Name() == "slug":
				f.slugs = append(f.slugs, fd)
			}
		}
	}
	delete(visiting, md.FullName())
	if len(f.ids)+len(f.slugs)+len(f.lists)+len(f.nested) == 0 {
		f = nil
	}
	if len(visiting) == 0 {
		// Only a type decided outside any cycle is remembered: inside one,
		// a type met again counted as having no ids.
		idFieldsOf.Store(md.FullName(), f)
	}
	return f
}
