// Package topic names every Kafka topic of the mesh, once: the services that
// publish and the services that consume a topic use these constants, so a
// rename cannot leave a consumer listening to nothing.
package topic

const (
	// BookingEvents carries every change of a booking made by the booking
	// engine (binary bookingv1.BookingEvent keyed by booking id), moved
	// from the Redis streams by the relay. Consumed by the persister,
	// notify and analytics.
	BookingEvents = "booking.events"
	// PaymentSuccess, PaymentFailed, PaymentRefunded and PaymentRefundFailed
	// carry a payment's outcome (binary paymentv1.PaymentEvent keyed by
	// payment id), written through the payment service's outbox. The saga
	// consumes PaymentSuccess; notify PaymentFailed, PaymentRefunded and
	// PaymentRefundFailed; analytics PaymentRefunded.
	PaymentSuccess  = "payment.success"
	PaymentFailed   = "payment.failed"
	PaymentRefunded = "payment.refunded"
	// PaymentRefundFailed is a refund the provider accepted and then failed
	// (or cancelled): the money the earlier payment.refunded announced is
	// back with Booking Rush, not the buyer.
	PaymentRefundFailed = "payment.refund-failed"
	// SagaDeadLetter receives the payment.success message of every saga
	// that gave up.
	SagaDeadLetter = "saga.dead-letter"
)
