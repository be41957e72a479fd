package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/background"
	"github.com/bookingrush/rush/services/platform/mail"
)

// Worker delivers pending notifications. Every replica may run one: a
// message is locked (FOR UPDATE SKIP LOCKED) for the length of its SMTP
// attempt, so two workers never mail it at once. An attempt that dies with
// its process leaves the row pending and unchanged: it is tried again
// (at-least-once; the relay may have the mail already, SMTP cannot say).
type Worker struct {
	cfg     Config
	tickets Tickets
	store   *Store
	sender  mail.Sender
	log     *zap.Logger
	sent    *prometheus.CounterVec

	kick chan struct{}
	*background.Task
}

// NewWorker returns the delivery worker; Start runs it.
func NewWorker(cfg Config, store *Store, tickets Tickets, sender mail.Sender, reg *prometheus.Registry, log *zap.Logger) (*Worker, error) {
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rush_notify_deliveries_total",
		Help: "E-mail delivery attempts by kind and outcome (sent, retry, failed, withdrawn).",
	}, []string{"kind", "outcome"})
	if err := reg.Register(sent); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		sent = are.ExistingCollector.(*prometheus.CounterVec)
	}
	// Every kind and outcome is exported from the start, at 0: a series
	// born at 1 has no increase(), so RushMailFailing would miss a kind's
	// first mail failed for good (and a quiet day's panel would show no data).
	for _, kind := range kinds {
		for _, outcome := range []string{"sent", "retry", "failed", "withdrawn"} {
			sent.WithLabelValues(kind, outcome)
		}
	}
	w := &Worker{cfg: cfg, tickets: tickets, store: store, sender: sender, log: log.Named("notify-worker"), sent: sent, kick: make(chan struct{}, 1)}
	w.Task = background.New(w.loop)
	return w, nil
}

// Kick asks the worker to look for due messages now.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Worker) loop(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		for ctx.Err() == nil {
			did, err := w.Once(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("notify: delivery paused", zap.Error(err))
				}
				break
			}
			if !did {
				break
			}
		}
		background.Wait(ctx, t, w.kick)
	}
}

// due selects the oldest pending message whose backoff has passed: the
// wait after attempt n is retry-backoff * 2^(n-1), at most max-backoff,
// counted from the attempt (updated_at).
const due = `SELECT id::text, kind, recipient, subject, body, data, attempts FROM notifications
 WHERE status = 'pending'
   AND (attempts = 0 OR updated_at + make_interval(secs => least($1::float8 * power(2, attempts - 1), $2::float8)) <= now())
 ORDER BY created_at
 LIMIT 1
 FOR UPDATE SKIP LOCKED`

// Once makes one delivery attempt for one due message and records it;
// did is false when nothing was due.
func (w *Worker) Once(ctx context.Context) (did bool, err error) {
	tx, err := w.store.db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	var (
		id, kind, to, subject, body string
		raw                         []byte
		attempts                    int
	)
	err = tx.QueryRow(ctx, due, w.cfg.RetryBackoff.Seconds(), w.cfg.MaxBackoff.Seconds()).
		Scan(&id, &kind, &to, &subject, &body, &raw, &attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, tx.Commit(ctx)
	}
	if err != nil {
		return false, err
	}
	var data map[string]string
	_ = json.Unmarshal(raw, &data)
	attempts++
	m, rerr := render(kind, data)
	permanent := rerr != nil // data that cannot render now never will
	var inline []mail.Inline
	if rerr == nil && kind == "booking_confirmed" {
		// The tickets' QR codes go in as inline images; the last attempt
		// goes without them (the app shows them too) rather than not at all.
		m.HTML, inline, rerr = w.ticketImages(ctx, data["booking_id"], m.HTML)
		if rerr != nil && !errors.Is(rerr, errWithdrawn) && attempts >= w.cfg.MaxAttempts {
			w.log.Warn("notify: confirmation sent without its QR codes", zap.String("id", id), zap.Error(rerr))
			// The mail says so, rather than promise codes it does not carry:
			// both parts are rendered again without the promise.
			data["tickets_missing"] = "true"
			if m, rerr = render(kind, data); rerr == nil {
				body = m.Text
			}
		}
	}
	if rerr == nil {
		// The subject and text recorded at request time are what the user
		// was promised; the HTML alternative is rendered from the same data.
		msg := mail.Message{To: to, Subject: subject, Text: body, HTML: m.HTML, Inline: inline}
		if kind == "booking_confirmed" {
			if ics, ok := calendarFile(data, time.Now()); ok {
				msg.Attachments = append(msg.Attachments, ics)
			}
		}
		rerr = w.sender.Send(ctx, msg)
	}
	if ctx.Err() != nil && rerr != nil {
		return false, ctx.Err() // stopping: the attempt does not count
	}
	if ctx.Err() != nil {
		// Stopping, but the relay accepted the mail: record it, or the next
		// process would mail it again.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	status, outcome, lastErr := "sent", "sent", ""
	switch {
	case rerr == nil:
	case errors.Is(rerr, errWithdrawn):
		status, outcome, lastErr = "withdrawn", "withdrawn", rerr.Error()
	case permanent || errors.Is(rerr, mail.ErrPermanent) || attempts >= w.cfg.MaxAttempts:
		status, outcome, lastErr = "failed", "failed", rerr.Error()
	default:
		status, outcome, lastErr = "pending", "retry", rerr.Error()
	}
	scrub := status != "pending" && sensitive[kind]
	if _, err := tx.Exec(ctx, `UPDATE notifications
		SET status = $2, attempts = $3, last_error = NULLIF($4, ''),
		    sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END,
		    data = CASE WHEN $5 THEN '{"redacted":"true"}'::jsonb ELSE data END,
		    body = CASE WHEN $5 THEN '' ELSE body END
		WHERE id = $1`, id, status, attempts, truncate(lastErr, 1000), scrub); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	w.sent.WithLabelValues(kind, outcome).Inc()
	// The log outlives the recipient's account: an SMTP reply usually
	// echoes the address, so addresses are masked in what it keeps (the
	// row keeps the whole error until the account is forgotten).
	logged := zap.String("error", addresses.ReplaceAllString(lastErr, "<address>"))
	switch status {
	case "pending":
		w.log.Warn("notify: delivery failed, will retry", zap.String("id", id), zap.String("kind", kind), zap.Int("attempt", attempts), logged)
	case "failed":
		w.log.Error("notify: delivery failed for good", zap.String("id", id), zap.String("kind", kind), zap.Int("attempts", attempts), logged)
	case "withdrawn":
		w.log.Info("notify: not sent", zap.String("id", id), zap.String("kind", kind), logged)
	}
	return true, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Tickets is what notify asks the gate service: a booking's e-tickets (with
// their QR codes), shown in the confirmation mail.
type Tickets interface {
	ListBookingTickets(context.Context, *connect.Request[gatev1.ListBookingTicketsRequest]) (*connect.Response[gatev1.ListBookingTicketsResponse], error)
}

// ticketsMarker is where booking_confirmed.html shows the tickets.
const ticketsMarker = `<div id="tickets"></div>`

// noTickets is what a confirmation sent without its QR codes says instead
// (booking_confirmed.txt and .html, with data "tickets_missing").
const noTickets = "Your tickets could not be attached to this e-mail: they are on your booking's page"

// errWithdrawn is a message not to send: what it announced no longer
// holds.
var errWithdrawn = errors.New("withdrawn")

// ticketImages fetches a booking's tickets and puts their QR codes into
// html as inline images. No tickets yet (the gate issues them moments
// after the confirmation) is an error: the mail waits for its next attempt.
// Only revoked ones (the purchase was refunded or cancelled first) is
// errWithdrawn: a "confirmed" mail would come after the refund.
func (w *Worker) ticketImages(ctx context.Context, bookingID, html string) (string, []mail.Inline, error) {
	res, err := w.tickets.ListBookingTickets(authn.AsSystem(ctx), connect.NewRequest(&gatev1.ListBookingTicketsRequest{BookingId: bookingID}))
	if err != nil {
		return html, nil, fmt.Errorf("the tickets of booking %s: %w", bookingID, err)
	}
	var b strings.Builder
	var inline []mail.Inline
	revoked := 0
	for _, t := range res.Msg.GetTickets() {
		if t.GetStatus() == gatev1.TicketStatus_TICKET_STATUS_REVOKED {
			revoked++
		}
		if len(t.GetQrPng()) == 0 {
			continue
		}
		cid := fmt.Sprintf("ticket-%d@bookingrush", t.GetSeat())
		inline = append(inline, mail.Inline{ContentID: cid, Type: "image/png", Data: t.GetQrPng()})
		fmt.Fprintf(&b, `<p style="margin: 16px 0 4px;">Ticket %d</p><img src="cid:%s" alt="QR code of ticket %d" width="240" height="240" style="display: block;">`,
			t.GetSeat(), cid, t.GetSeat())
	}
	if n := len(res.Msg.GetTickets()); n > 0 && revoked == n {
		return html, nil, fmt.Errorf("booking %s was refunded or cancelled before its confirmation went out (its tickets are revoked): %w", bookingID, errWithdrawn)
	}
	if len(inline) == 0 {
		return html, nil, fmt.Errorf("booking %s has no tickets yet", bookingID)
	}
	return strings.Replace(html, ticketsMarker, b.String(), 1), inline, nil
}

// addresses matches e-mail addresses in an error's text.
var addresses = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)
