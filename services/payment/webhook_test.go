package payment_test

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/payment"
)

// TestWebhookTimestampsWithinToleranceBothWays: Stripe's 5 minutes apply
// to signatures dated ahead as well as behind, for both providers (the
// simulator signs and verifies exactly as Stripe).
func TestWebhookTimestampsWithinToleranceBothWays(t *testing.T) {
	t.Parallel()
	st, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk_test_x", WebhookSecret: webhookSecret, APIURL: "http://127.0.0.1:1"}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	sim := payment.NewSimulator(webhookSecret, 0, zap.NewNop())
	now := time.Now()
	for _, c := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"now", now, true},
		{"4 minutes ago", now.Add(-4 * time.Minute), true},
		{"4 minutes ahead", now.Add(4 * time.Minute), true},
		{"6 minutes ago", now.Add(-6 * time.Minute), false},
		{"6 minutes ahead", now.Add(6 * time.Minute), false},
		{"an hour ahead", now.Add(time.Hour), false},
	} {
		payload, sig := signed("evt_ts", "payment_intent.succeeded", "pi_ts", "7b0c3f0e-8d5e-4d6c-9a51-2f1f7e9a0b11", webhookSecret, c.at)
		for name, p := range map[string]payment.Provider{"stripe": st, "simulator": sim} {
			_, err := p.VerifyWebhook(payload, sig)
			if c.ok && err != nil {
				t.Errorf("%s, signed %s: %v", name, c.name, err)
			}
			if !c.ok && !errorsIs(err, payment.ErrBadSignature) {
				t.Errorf("%s, signed %s: %v, want ErrBadSignature", name, c.name, err)
			}
		}
	}
}
