package authn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bookingrush/rush/services/platform/authn"
)

// TestStreamingCallsCarryTheCallersToken: a server stream made through the
// client interceptor reaches the server with exactly one Authorization, the
// caller's own when the request carries one (as the edge forwards the
// buyer's), the principal's of the context when it has one, and the
// component's service token only when there is no caller. (The token set
// when the connection was made used to come first, so the callee saw the
// component, not the caller.)
func TestStreamingCallsCarryTheCallersToken(t *testing.T) {
	t.Parallel()
	k := keys(t, secret)
	const procedure = "/test.v1.Echo/Authorization"
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewServerStreamHandler(procedure,
		func(_ context.Context, req *connect.Request[emptypb.Empty], s *connect.ServerStream[wrapperspb.StringValue]) error {
			return s.Send(wrapperspb.String(strings.Join(req.Header().Values("Authorization"), " | ")))
		}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](srv.Client(), srv.URL+procedure,
		connect.WithInterceptors(authn.NewClientInterceptor(k, "edge")))
	seen := func(ctx context.Context, header string) string {
		t.Helper()
		req := connect.NewRequest(&emptypb.Empty{})
		if header != "" {
			req.Header().Set("Authorization", header)
		}
		s, err := client.CallServerStream(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !s.Receive() {
			t.Fatalf("no message: %v", s.Err())
		}
		return s.Msg().GetValue()
	}

	buyer, _, _ := k.IssueAccess("buyer-1", authn.RoleUser, "", time.Now())
	if got := seen(context.Background(), "Bearer "+buyer); got != "Bearer "+buyer {
		t.Errorf("the caller's header: the server saw %q", got)
	}
	p, err := k.Verify(buyer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := seen(authn.WithPrincipal(context.Background(), p), ""); got != "Bearer "+buyer {
		t.Errorf("the context's principal: the server saw %q", got)
	}
	got := seen(context.Background(), "")
	svc, err := k.Verify(strings.TrimPrefix(got, "Bearer "), time.Now())
	if err != nil || svc.Role != authn.RoleService || svc.UserID != "service:edge" {
		t.Errorf("no caller: the server saw %q (%+v, %v), want the edge's service token", got, svc, err)
	}
}
