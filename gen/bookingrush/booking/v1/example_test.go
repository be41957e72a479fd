package bookingv1_test

import (
	"errors"
	"fmt"
	"testing"

	"buf.build/go/protovalidate"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
)

// The rules written in booking.proto travel with the generated types:
// protovalidate reads them from the message descriptor, so a service (or a
// client, before it sends) checks a request with one call. The services do
// this in an interceptor, so a handler never sees a request that breaks them.
func ExampleReserveRequest() {
	req := &bookingv1.ReserveRequest{
		ShowId:         "not-a-uuid",
		ZoneId:         "0b8f3c2e-5a7d-4f1e-9c6b-2d4e8a1f3b5c",
		Quantity:       0,
		IdempotencyKey: "checkout-7f3a9c",
	}
	err := protovalidate.Validate(req)

	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) {
		for _, v := range verr.Violations {
			fmt.Printf("%s: %s\n", protovalidate.FieldPathString(v.Proto.GetField()), v.Proto.GetRuleId())
		}
	}
	// Output:
	// show_id: string.uuid
	// quantity: required
}

func validReserveRequest() *bookingv1.ReserveRequest {
	return &bookingv1.ReserveRequest{
		ShowId:         "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
		ZoneId:         "0b8f3c2e-5a7d-4f1e-9c6b-2d4e8a1f3b5c",
		Quantity:       2,
		IdempotencyKey: "checkout-7f3a9c",
	}
}

func TestReserveRequestValidation(t *testing.T) {
	t.Parallel()
	validator, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*bookingv1.ReserveRequest)
		// want lists the expected "field: rule" violations; empty means valid.
		want []string
	}{
		{name: "valid", mutate: func(*bookingv1.ReserveRequest) {}},
		{name: "valid with queue pass", mutate: func(r *bookingv1.ReserveRequest) { r.QueuePass = "qp.eyJhbGciOi.abc-_" }},
		{name: "max quantity", mutate: func(r *bookingv1.ReserveRequest) { r.Quantity = 10 }},
		{
			name:   "quantity zero and bad uuid",
			mutate: func(r *bookingv1.ReserveRequest) { r.Quantity = 0; r.ShowId = "42" },
			want:   []string{"show_id: string.uuid", "quantity: required"},
		},
		{name: "quantity negative", mutate: func(r *bookingv1.ReserveRequest) { r.Quantity = -1 }, want: []string{"quantity: int32.gt_lte"}},
		{name: "quantity above 10", mutate: func(r *bookingv1.ReserveRequest) { r.Quantity = 11 }, want: []string{"quantity: int32.gt_lte"}},
		{name: "missing zone", mutate: func(r *bookingv1.ReserveRequest) { r.ZoneId = "" }, want: []string{"zone_id: required"}},
		// The key may come in the Idempotency-Key header instead; the service checks that one.
		{name: "idempotency key in header", mutate: func(r *bookingv1.ReserveRequest) { r.IdempotencyKey = "" }},
		{name: "short idempotency key", mutate: func(r *bookingv1.ReserveRequest) { r.IdempotencyKey = "abc" }, want: []string{"idempotency_key: string.pattern"}},
		{name: "idempotency key with space", mutate: func(r *bookingv1.ReserveRequest) { r.IdempotencyKey = "abc def ghi" }, want: []string{"idempotency_key: string.pattern"}},
		{name: "queue pass with space", mutate: func(r *bookingv1.ReserveRequest) { r.QueuePass = "a b" }, want: []string{"queue_pass: string.pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := validReserveRequest()
			tt.mutate(req)
			got := violations(t, validator.Validate(req))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("violations = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListBookingsRequestValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *bookingv1.ListBookingsRequest
		want []string
	}{
		{name: "defaults", req: &bookingv1.ListBookingsRequest{}},
		{name: "page and filter", req: &bookingv1.ListBookingsRequest{Page: 3, PerPage: 100, Status: bookingv1.BookingStatus_BOOKING_STATUS_CONFIRMED}},
		{name: "negative page", req: &bookingv1.ListBookingsRequest{Page: -1}, want: []string{"page: int32.gte_lte"}},
		{name: "per_page too big", req: &bookingv1.ListBookingsRequest{PerPage: 101}, want: []string{"per_page: int32.gte_lte"}},
		{name: "unknown status", req: &bookingv1.ListBookingsRequest{Status: 99}, want: []string{"status: enum.defined_only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := violations(t, protovalidate.Validate(tt.req))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("violations = %q, want %q", got, tt.want)
			}
		})
	}
}

// violations turns a protovalidate result into "field: rule" strings. Any
// error other than a ValidationError (a broken rule, say) fails the test.
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
