// Package bookingrush_test checks the protovalidate rules of every contract:
// they compile, and the less obvious ones (CEL, patterns) mean what their
// comments say.
package bookingrush_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	analyticsv1 "github.com/bookingrush/rush/gen/bookingrush/analytics/v1"
	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	_ "github.com/bookingrush/rush/gen/bookingrush/saga/v1"
)

const uuid = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"

// TestEveryRequestCompiles validates an empty request of every RPC of every
// service. A rule that does not compile, or a CEL expression that errors at
// run time, would show up as an error that is not a ValidationError.
func TestEveryRequestCompiles(t *testing.T) {
	t.Parallel()
	validator, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	services := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "bookingrush.") {
			return true
		}
		for i := range fd.Services().Len() {
			services++
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				typ, err := protoregistry.GlobalTypes.FindMessageByName(methods.Get(j).Input().FullName())
				if err != nil {
					t.Fatal(err)
				}
				checkCompiles(t, validator, typ.New().Interface())
			}
		}
		return true
	})
	if services != 8 {
		t.Errorf("found %d services, want 8", services)
	}
}

// TestEveryRequestFieldHasRules keeps the convention of proto/README.md: every
// field of every request carries a buf.validate.field rule. Booleans have
// nothing to check; the listed timestamps are checked by a message-level rule.
func TestEveryRequestFieldHasRules(t *testing.T) {
	t.Parallel()
	exempt := map[protoreflect.FullName]bool{
		"bookingrush.auth.v1.ListAuditLogsRequest.from":           true,
		"bookingrush.auth.v1.ListAuditLogsRequest.to":             true,
		"bookingrush.catalog.v1.UpdateEventRequest.sale_start_at": true,
		"bookingrush.catalog.v1.UpdateEventRequest.sale_end_at":   true,
	}
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		desc := mt.Descriptor()
		if !strings.HasPrefix(string(desc.FullName()), "bookingrush.") || !strings.HasSuffix(string(desc.Name()), "Request") {
			return true
		}
		for i := range desc.Fields().Len() {
			field := desc.Fields().Get(i)
			if field.Kind() == protoreflect.BoolKind || exempt[field.FullName()] {
				continue
			}
			if !proto.HasExtension(field.Options(), validate.E_Field) {
				t.Errorf("%s has no (buf.validate.field) rule", field.FullName())
			}
		}
		return true
	})
}

func checkCompiles(t *testing.T, validator protovalidate.Validator, msg proto.Message) {
	t.Helper()
	err := validator.Validate(msg)
	var verr *protovalidate.ValidationError
	if err != nil && !errors.As(err, &verr) {
		t.Errorf("%s: %v", msg.ProtoReflect().Descriptor().FullName(), err)
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	event := func(mutate func(*catalogv1.CreateEventRequest)) *catalogv1.CreateEventRequest {
		req := &catalogv1.CreateEventRequest{
			Title: "Flash Fest", Venue: "Arena", SaleStartAt: ts(time.Hour), SaleEndAt: ts(48 * time.Hour),
		}
		mutate(req)
		return req
	}
	zone := func(price string) *catalogv1.CreateZoneRequest {
		return &catalogv1.CreateZoneRequest{ShowId: uuid, Name: "VIP", Price: price, TotalSeats: 100}
	}
	pay := func(method string) *paymentv1.CreatePaymentRequest {
		return &paymentv1.CreatePaymentRequest{BookingId: uuid, PaymentMethod: method}
	}
	tests := []struct {
		name string
		msg  proto.Message
		want []string
	}{
		{"register ok", &authv1.RegisterRequest{Email: "a@example.com", Password: "correct horse", FullName: "Ann"}, nil},
		{
			"register bad",
			&authv1.RegisterRequest{Email: "nope", Password: "short", FullName: ""},
			[]string{"email: string.email", "password: string.min_len", "full_name: required"},
		},
		{"password over 72 bytes", &authv1.RegisterRequest{Email: "a@example.com", Password: strings.Repeat("é", 37), FullName: "Ann"}, []string{"password: string.max_bytes"}},
		{"role ok", &authv1.SetUserRoleRequest{UserId: uuid, Role: authv1.Role_ROLE_ORGANIZER}, nil},
		{"role unspecified", &authv1.SetUserRoleRequest{UserId: uuid}, []string{"role: enum.not_in"}},
		{"role unknown", &authv1.SetUserRoleRequest{UserId: uuid, Role: 7}, []string{"role: enum.defined_only"}},
		{"audit range", &authv1.ListAuditLogsRequest{From: ts(time.Hour), To: ts(0)}, []string{": list_audit_logs.time_range"}},
		{"event ok", event(func(*catalogv1.CreateEventRequest) {}), nil},
		{"event sale window", event(func(r *catalogv1.CreateEventRequest) { r.SaleEndAt = ts(0) }), []string{": create_event.sale_window"}},
		{"event max per user", event(func(r *catalogv1.CreateEventRequest) { r.MaxPerUser = 11 }), []string{"max_per_user: int32.gte_lte"}},
		{"event bad slug", event(func(r *catalogv1.CreateEventRequest) { r.Slug = "Flash Fest" }), []string{"slug: string.pattern"}},
		{"event http image", event(func(r *catalogv1.CreateEventRequest) { r.ImageUrl = "http://x.test/a.png" }), []string{"image_url: string.prefix"}},
		{"update partial", &catalogv1.UpdateEventRequest{EventId: uuid, Title: proto.String("New")}, nil},
		{"update empty title", &catalogv1.UpdateEventRequest{EventId: uuid, Title: proto.String("")}, []string{"title: string.min_len"}},
		{"show in the past", &catalogv1.CreateShowRequest{EventId: uuid, ShowDate: ts(-time.Hour)}, []string{"show_date: timestamp.gt_now"}},
		{"show with its end", &catalogv1.CreateShowRequest{EventId: uuid, ShowDate: ts(time.Hour), EndsAt: ts(4 * time.Hour)}, nil},
		{"show ending before it starts", &catalogv1.CreateShowRequest{EventId: uuid, ShowDate: ts(time.Hour), EndsAt: ts(time.Minute)}, []string{": create_show.ends_at"}},
		{"show of 31 days", &catalogv1.CreateShowRequest{EventId: uuid, ShowDate: ts(time.Hour), EndsAt: ts(time.Hour + 31*24*time.Hour)}, []string{": create_show.ends_at"}},
		{"show ending in the past", &catalogv1.CreateShowRequest{EventId: uuid, ShowDate: ts(time.Hour), EndsAt: ts(-time.Hour)}, []string{": create_show.ends_at", "ends_at: timestamp.gt_now"}},
		{"price ok", zone("49.90"), nil},
		{"price integer", zone("5"), nil},
		{"price zero", zone("0.00"), []string{"price: price.positive"}},
		{"price three decimals", zone("1.999"), []string{"price: string.pattern"}},
		{"price garbage", zone("abc"), []string{"price: string.pattern"}},
		{"price too big", zone("123456789"), []string{"price: string.pattern"}},
		{"seats too many", &catalogv1.CreateZoneRequest{ShowId: uuid, Name: "A", Price: "1", TotalSeats: 100001}, []string{"total_seats: int32.gte_lte"}},
		{"pay sim", pay("sim_declined"), nil},
		{"pay stripe pm", pay("pm_1N2x3Y"), nil},
		{"pay other", pay("cash"), []string{"payment_method: string.pattern"}},
		{"webhook without body", &paymentv1.HandleStripeWebhookRequest{}, []string{"body: required"}},
		{"notify bad key", &notifyv1.SendNotificationRequest{Template: notifyv1.Template_TEMPLATE_WELCOME, Recipient: "a@example.com", IdempotencyKey: "x"}, []string{"idempotency_key: string.pattern"}},
		{"dates ok", &analyticsv1.GetDashboardRequest{From: "2025-01-01", To: "2025-01-31"}, nil},
		{"dates reversed", &analyticsv1.GetDashboardRequest{From: "2025-02-01", To: "2025-01-31"}, []string{": date_range.order"}},
		{"date format", &analyticsv1.GetDashboardRequest{From: "2025-13-01"}, []string{"from: string.pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := violations(t, protovalidate.Validate(tt.msg))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("violations = %q, want %q", got, tt.want)
			}
		})
	}
}

func violations(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("not a validation error: %v", err)
	}
	out := make([]string, 0, len(verr.Violations))
	for _, v := range verr.Violations {
		out = append(out, protovalidate.FieldPathString(v.Proto.GetField())+": "+v.Proto.GetRuleId())
	}
	return out
}
