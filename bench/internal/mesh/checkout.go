package mesh

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingrush/rush/bench/internal/load"
)

// Hold is a booking the bench was answered 201 for, and its buyer.
type Hold struct {
	BookingID string
	// Token is the buyer's access token.
	Token string
	// Zone is the zone's index in the event; Seats the hold's size.
	Zone, Seats int
}

// Payment is how the checkout pays for one hold, and what it was answered.
type Payment struct {
	Hold
	// Method is the simulator's payment_method: sim_ok or sim_declined.
	Method string
	// Retried sends the call twice at once with one Idempotency-Key, as a
	// client retrying on a timeout does: both must answer the same payment.
	Retried bool
	// ID is the payment answered (set by the Doer of PayHTTP).
	ID string
}

// PayHTTP returns a Doer whose request seq posts the payment of pays[seq]
// to base+/api/v1/payments with the Idempotency-Key keyPrefix+seq, and
// records the payment answered in pays[seq].ID. A retried payment is one
// request of two concurrent calls: its latency is the slower one's; it is
// expected when both answer 201 with the same payment.
func PayHTTP(c *http.Client, base, keyPrefix string, pays []Payment) load.Doer {
	url := base + "/api/v1/payments"
	return func(ctx context.Context, seq uint64) load.Answer {
		p := &pays[seq]
		body, _ := json.Marshal(map[string]string{"booking_id": p.BookingID, "payment_method": p.Method})
		key := keyPrefix + "pay-" + strconv.FormatUint(seq, 36)
		pay := func() (string, string) {
			var data struct {
				ID string `json:"id"`
			}
			r := send(ctx, c, url, "Bearer "+p.Token, key, body, &data)
			if r.failed != "" {
				return r.failed, ""
			}
			return outcome(r.status, r.code), data.ID
		}
		if !p.Retried {
			out, id := pay()
			p.ID = id
			return load.Answer{Outcome: out, Expected: out == "201" && id != "", Zone: p.Zone}
		}
		var wg sync.WaitGroup
		var outs, ids [2]string
		for i := range 2 {
			wg.Go(func() { outs[i], ids[i] = pay() })
		}
		wg.Wait()
		p.ID = cmp.Or(ids[0], ids[1])
		switch {
		case outs[0] != outs[1]:
			return load.Answer{Outcome: "retried: " + outs[0] + " and " + outs[1], Zone: p.Zone}
		case ids[0] != ids[1]:
			return load.Answer{Outcome: "retried: " + outs[0] + " twice, TWO payments", Zone: p.Zone}
		}
		return load.Answer{Outcome: outs[0] + " twice, one payment (retried, same key)", Expected: outs[0] == "201" && ids[0] != "", Zone: p.Zone}
	}
}

// CancelHTTP returns a Doer whose request seq cancels holds[seq] through
// base+/api/v1/bookings/{id}/cancel as its buyer. The expected answer is 200
// with the booking's status want: "refunded" for a confirmed booking whose
// show is more than 7 days away (100% under the policy), "cancelled" for a
// hold. The Answer's Seats are the seats given back.
func CancelHTTP(c *http.Client, base string, holds []Hold, want string) load.Doer {
	return func(ctx context.Context, seq uint64) load.Answer {
		h := holds[seq]
		var data struct {
			Status string `json:"status"`
		}
		r := send(ctx, c, base+"/api/v1/bookings/"+h.BookingID+"/cancel", "Bearer "+h.Token, "", []byte("{}"), &data)
		if r.failed != "" {
			return load.Answer{Outcome: r.failed, Zone: h.Zone}
		}
		a := load.Answer{Outcome: outcome(r.status, r.code), Zone: h.Zone}
		if r.status == http.StatusOK {
			a.Seats = h.Seats
			a.Expected = data.Status == want
			if !a.Expected {
				a.Outcome += " booking " + data.Status
			}
		}
		return a
	}
}

// Settlement is where the payments the bench made stand.
type Settlement struct {
	// Open counts payments still pending or processing.
	Open int
	// Succeeded counts the payments that succeeded (refunded since or not),
	// Failed the declined ones.
	Succeeded, Failed int
	// Completed and Compensated count the sagas of the succeeded payments
	// that ended (booking confirmed; payment refunded), Running those still
	// running or compensating, FailedSagas those dead-lettered; Unstarted
	// counts the succeeded payments without a saga (their payment.success
	// not consumed yet).
	Completed, Compensated, Running, FailedSagas, Unstarted int
	// Confirmed are the bookings of succeeded payments that nothing
	// refunded and whose saga completed.
	Confirmed []string
}

// Settled reports every payment decided and every saga of a succeeded one
// ended (completed or compensated).
func (s Settlement) Settled() bool {
	return s.Open == 0 && s.Running == 0 && s.FailedSagas == 0 && s.Unstarted == 0
}

// Settle reads the state of the payments ids and of their sagas. Like the
// audits, it reads the payment and saga services' tables side by side.
func Settle(ctx context.Context, db *pgxpool.Pool, ids []string) (Settlement, error) {
	var s Settlement
	rows, err := db.Query(ctx, `SELECT p.booking_id::text, p.status, p.succeeded_at IS NOT NULL, p.refund_requested_at IS NOT NULL, COALESCE(s.status, '')
		FROM payments p LEFT JOIN sagas s ON s.payment_id = p.id WHERE p.id = ANY($1::text[]::uuid[])`, ids)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var booking, status, saga string
		var succeeded, refunding bool
		if err := rows.Scan(&booking, &status, &succeeded, &refunding, &saga); err != nil {
			return s, err
		}
		switch {
		case status == "pending" || status == "processing":
			s.Open++
			continue
		case status == "failed":
			s.Failed++
			continue
		case succeeded:
			s.Succeeded++
		}
		switch saga {
		case "completed":
			s.Completed++
		case "compensated":
			s.Compensated++
		case "failed":
			s.FailedSagas++
		case "":
			s.Unstarted++
		default:
			s.Running++
		}
		if status == "succeeded" && !refunding && saga == "completed" {
			s.Confirmed = append(s.Confirmed, booking)
		}
	}
	return s, rows.Err()
}

// WaitSettled polls Settle until the payments are settled or wait is over;
// it answers the last state read and how long it took.
func WaitSettled(ctx context.Context, db *pgxpool.Pool, ids []string, wait time.Duration) (Settlement, time.Duration, error) {
	start := time.Now()
	for {
		s, err := Settle(ctx, db, ids)
		if (err == nil && s.Settled()) || time.Since(start) > wait || ctx.Err() != nil {
			return s, time.Since(start), err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RefundedInFull counts the bookings whose payment was refunded in full.
func RefundedInFull(ctx context.Context, db *pgxpool.Pool, bookingIDs []string) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM payments WHERE booking_id = ANY($1::text[]::uuid[])
		AND status = 'refunded' AND refunded_amount = amount AND refunded_at IS NOT NULL`, bookingIDs).Scan(&n)
	return n, err
}

// SagaTimes split a settled payment's way into its stages: from the payment
// succeeding (its webhook recorded) to its saga being recorded (the outbox
// relay, the payment.success topic and the orchestrator's consumer), and
// from there to the saga's end (confirmation, e-mail step).
type SagaTimes struct {
	StartP50, StartMax, RunP50, RunMax time.Duration
}

// Sagas measures SagaTimes over the ended sagas of the payments ids.
func Sagas(ctx context.Context, db *pgxpool.Pool, ids []string) (SagaTimes, error) {
	var sec [4]float64
	err := db.QueryRow(ctx, `SELECT
			COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.created_at - p.succeeded_at)), 0),
			COALESCE(max(extract(epoch FROM s.created_at - p.succeeded_at)), 0)::float8,
			COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.created_at)), 0),
			COALESCE(max(extract(epoch FROM s.finished_at - s.created_at)), 0)::float8
		FROM payments p JOIN sagas s ON s.payment_id = p.id
		WHERE p.id = ANY($1::text[]::uuid[]) AND p.succeeded_at IS NOT NULL AND s.finished_at IS NOT NULL`, ids).Scan(&sec[0], &sec[1], &sec[2], &sec[3])
	d := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return SagaTimes{StartP50: d(sec[0]), StartMax: d(sec[1]), RunP50: d(sec[2]), RunMax: d(sec[3])}, err
}
