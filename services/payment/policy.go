package payment

import (
	"time"

	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
)

// RefundPercent is the product's refund policy: the share of the price
// given back when a confirmed booking is cancelled at now for a show at
// show. The buyer gets 100% more than 7 days before the show, 50% from 3 to
// 7 days, 0% under 3 days; an organizer cancelling the event (or an event
// already cancelled), money that arrived after the hold was gone and an
// admin's refund in full (REFUND_CAUSE_SUPPORT) are refunded in full.
func RefundPercent(cause paymentv1.RefundCause, show, now time.Time, eventCancelled bool) int64 {
	if cause != paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED || eventCancelled {
		return 100
	}
	left := show.Sub(now)
	switch {
	case left > 7*24*time.Hour:
		return 100
	case left >= 3*24*time.Hour:
		return 50
	default:
		return 0
	}
}

// refundCents is pct of amount, rounded down to the cent.
func refundCents(amount, pct int64) int64 { return amount * pct / 100 }

// policyStep is where now falls in the buyer's refund policy for a show at
// show: the share, the rule in words, and when the next step starts (zero
// when none follows).
func policyStep(show, now time.Time) (pct int64, rule string, until time.Time) {
	week, days3 := show.Add(-7*24*time.Hour), show.Add(-3*24*time.Hour)
	switch pct = RefundPercent(paymentv1.RefundCause_REFUND_CAUSE_BUYER_CANCELLED, show, now, false); pct {
	case 100:
		return pct, "100% more than 7 days before the show", week
	case 50:
		return pct, "50% from 3 to 7 days before the show", days3
	}
	return 0, "no refund less than 3 days before the show", time.Time{}
}
