package saga

import (
	"testing"

	"github.com/bookingrush/rush/services/platform/errs"
)

// TestRefundReasonSaysWhyTheConfirmationFailed: the compensation's reason,
// which the buyer's refund mail shows, follows the confirmation's recorded
// error: a hold gone, a booking engine that did not confirm in time, an
// account deleted. It said "the payment arrived after the hold had ended"
// whatever happened.
func TestRefundReasonSaysWhyTheConfirmationFailed(t *testing.T) {
	for confirmErr, want := range map[string]string{
		describe(errs.New(errs.ReservationExpired, "the reservation expired")):                              "the payment arrived after the hold had ended",
		describe(errs.New(errs.Conflict, "the booking was cancelled")):                                      "the payment arrived after the hold had ended",
		describe(errs.New(errs.NotFound, "the buyer's account was deleted: the payment is refunded")):       "the buyer's account was deleted",
		describe(&exhausted{err: errs.New(errs.ServiceUnavailable, "booking did not answer"), attempts: 9}): "the booking could not be confirmed in time",
		"": "the payment arrived after the hold had ended",
	} {
		if got := refundReason(confirmErr); got != want {
			t.Errorf("refundReason(%q) = %q, want %q", confirmErr, got, want)
		}
	}
}
