package payment_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/payment"
	"github.com/bookingrush/rush/services/platform/errs"
)

// TestAnIntentAfterCloseIsRefused: a payment asked for while the process
// stops (after the simulator's Close) is refused as unavailable, naming
// the simulator, instead of accepted with a webhook nobody delivers (the
// payment would stay processing until a reconciler's pass).
func TestAnIntentAfterCloseIsRefused(t *testing.T) {
	t.Parallel()
	sim := payment.NewSimulator(webhookSecret, 0, zap.NewNop())
	sim.SetDeliverer(func(context.Context, []byte, string) error { return nil })
	sim.Close()
	in := payment.Intent{PaymentID: "p", BookingID: "b", UserID: "u", Method: payment.SimOK, AmountCents: 1000, Currency: "USD"}
	_, _, err := sim.CreateIntent(context.Background(), in)
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.ServiceUnavailable || e.Details["dependency"] != "simulator" {
		t.Fatalf("an intent after Close: %v, want SERVICE_UNAVAILABLE naming the simulator", err)
	}
}
