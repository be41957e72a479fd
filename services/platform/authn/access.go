package authn

import (
	"context"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	commonv1 "github.com/bookingrush/rush/gen/bookingrush/common/v1"
	"github.com/bookingrush/rush/services/platform/errs"
)

// AccessOf returns the roles md's access option requires (its
// bookingrush.common.v1.access), nil when it has none.
func AccessOf(md protoreflect.MethodDescriptor) []string {
	a, _ := proto.GetExtension(md.Options(), commonv1.E_Access).(*commonv1.Access)
	return a.GetRoles()
}

// accessInterceptor enforces the access option of each RPC.
type accessInterceptor struct {
	rules sync.Map // procedure -> *accessRule
}

// accessRule is one procedure's parsed access option.
type accessRule struct {
	roles []string // nil: any authenticated caller
	msg   string   // why other roles are FORBIDDEN
}

// NewAccessInterceptor checks the roles an RPC's access option requires
// (contracts: bookingrush.common.v1.access) before anything else looks at
// the request. Placed after authentication and before validation, it makes
// a caller without the role read FORBIDDEN, not the route's validation
// rules. A call without a principal is left to the authentication
// interceptor's verdict (anonymous procedures have no access option).
func NewAccessInterceptor() connect.Interceptor { return &accessInterceptor{} }

func (i *accessInterceptor) rule(spec connect.Spec) *accessRule {
	if r, ok := i.rules.Load(spec.Procedure); ok {
		return r.(*accessRule)
	}
	r := &accessRule{}
	if md, ok := spec.Schema.(protoreflect.MethodDescriptor); ok {
		if r.roles = AccessOf(md); len(r.roles) > 0 {
			who := slices.Clone(r.roles)
			if !slices.Contains(who, RoleAdmin) {
				who = append(who, RoleAdmin)
			}
			r.msg = "your role may not do this (it needs " + strings.Join(who, " or ") + ")"
		}
	}
	i.rules.Store(spec.Procedure, r)
	return r
}

func (i *accessInterceptor) check(ctx context.Context, spec connect.Spec) error {
	r := i.rule(spec)
	if r.roles == nil {
		return nil
	}
	p := FromContext(ctx)
	if p == nil {
		return errs.Connect(errs.New(errs.Unauthorized, "sign in first"))
	}
	if !p.HasRole(r.roles...) {
		return errs.Connect(errs.New(errs.Forbidden, r.msg))
	}
	return nil
}

func (i *accessInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			if err := i.check(ctx, req.Spec()); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

func (i *accessInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *accessInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := i.check(ctx, conn.Spec()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
