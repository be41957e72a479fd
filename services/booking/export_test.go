package booking

import bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"

// DecodeEntry exposes the relay's decoding of a stream entry to the
// black-box tests: the Kafka events it carries and each one's traceparent.
func DecodeEntry(v map[string]any) ([]*bookingv1.BookingEvent, []string, error) {
	changes, err := decodeEntry(v)
	evs, tps := make([]*bookingv1.BookingEvent, len(changes)), make([]string, len(changes))
	for i, c := range changes {
		evs[i], tps[i] = c.event, c.tp
	}
	return evs, tps, err
}
