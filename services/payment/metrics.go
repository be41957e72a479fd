package payment

import (
	"github.com/prometheus/client_golang/prometheus"

	paymentv1 "github.com/bookingrush/rush/gen/bookingrush/payment/v1"
	"github.com/bookingrush/rush/services/platform/server"
)

// metrics are the money series an operator alerts on: what became of
// payments, why money went back, what the reconciler had to do, and how
// many succeeded payments are still without a ticket or a refund.
type metrics struct {
	outcomes   *prometheus.CounterVec
	refunds    *prometheus.CounterVec
	reconciler *prometheus.CounterVec
	unsettled  *prometheus.GaugeVec
	// refundFailures counts refunds of ours that failed at the provider
	// after it accepted them; refundFailed is how many payments are owed
	// to their buyer because of one (status refund_failed) now.
	refundFailures prometheus.Counter
	refundFailed   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_outcomes_total", Help: "Payments decided, by outcome (succeeded, failed).",
		}, []string{"outcome"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_refunds_total", Help: "Refunds made, by cause (buyer_cancelled, organizer_cancelled, not_confirmed, support).",
		}, []string{"cause"}),
		reconciler: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_reconciler_actions_total",
			Help: "What the payment reconciler did: settled (booking seen confirmed), confirmed, refunded, refund_finished, intent_succeeded, intent_failed, intent_abandoned, intent_open (a stale payment's intent still open while its hold lives: left to its buyer), missed_event (a provider event no webhook brought, applied), failed (an action that will be retried).",
		}, []string{"action"}),
		unsettled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_unsettled_payments",
			Help: "Succeeded payments older than 5 minutes without a confirmed booking seen (state unconfirmed) or whose decided refund did not finish (state refund_pending); as of the reconciler's last pass.",
		}, []string{"state"}),
		refundFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "payment_refund_failures_total",
			Help: "Refunds of Booking Rush's that failed (or were cancelled) at the payment provider after it accepted them (Stripe refund.failed).",
		}),
		refundFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "payment_refund_failed_payments",
			Help: "Payments whose refund failed at the provider and was not made again since (status refund_failed): money kept, its buyer has no ticket; an admin retries the refund. As of the reconciler's last pass.",
		}),
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.refunds, m.reconciler, m.unsettled, m.refundFailures, m.refundFailed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every series exists from the start, at 0: an increase() over the
	// first action, and a dashboard of a quiet day, see 0 rather than no data.
	for _, a := range []string{"settled", "confirmed", "refunded", "refund_finished", "intent_succeeded", "intent_failed", "intent_abandoned", actionIntentOpen, "missed_event", "failed"} {
		m.reconciler.WithLabelValues(a)
	}
	for _, s := range []string{"unconfirmed", "refund_pending"} {
		m.unsettled.WithLabelValues(s)
	}
	for _, o := range []string{StatusSucceeded, StatusFailed} {
		m.outcomes.WithLabelValues(o)
	}
	for c := range paymentv1.RefundCause_name {
		if c := paymentv1.RefundCause(c); c != paymentv1.RefundCause_REFUND_CAUSE_UNSPECIFIED {
			m.refunds.WithLabelValues(refundCauseLabel(c))
		}
	}
	return m, nil
}

// refundCauseLabel is a refund cause as a label ("buyer_cancelled").
func refundCauseLabel(c paymentv1.RefundCause) string {
	return server.EnumWord(c)
}
