package saga

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/bookingrush/rush/services/platform/deadletter"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/outbox"
	"github.com/bookingrush/rush/services/platform/postgres"
)

// Saga statuses, as stored.
const (
	StatusRunning      = "running"
	StatusCompleted    = "completed"
	StatusCompensating = "compensating"
	StatusCompensated  = "compensated"
	StatusFailed       = "failed"
)

// Step names and statuses, as stored.
const (
	StepConfirm = "confirm-booking"
	StepNotify  = "send-notification"
	StepRefund  = "refund-payment"

	StepPending     = "pending"
	StepRunning     = "running"
	StepSucceeded   = "succeeded"
	StepFailed      = "failed"
	StepCompensated = "compensated"
	StepSkipped     = "skipped"
)

// Saga is a sagas row with its steps.
type Saga struct {
	ID, Type, PaymentID, BookingID string
	Status, CurrentStep, LastError string
	// Token is the claim counter (sagas.attempts): the run holding the
	// latest claim is the only one whose writes succeed.
	Token                            int64
	Trigger                          []byte
	DeadlineAt, CreatedAt, UpdatedAt time.Time
	Steps                            []Step
}

// Step is a saga_steps row.
type Step struct {
	Name, Status, Error   string
	Attempt               int
	StartedAt, FinishedAt time.Time
}

// step returns the named step (a pending one when absent).
func (s *Saga) step(name string) Step {
	for _, st := range s.Steps {
		if st.Name == name {
			return st
		}
	}
	return Step{Name: name, Status: StepPending}
}

// setStep records in memory what transition wrote of a step (its error
// only when it failed or was skipped, as the row keeps it).
func (s *Saga) setStep(name, status, stepErr string) {
	if status != StepFailed && status != StepSkipped {
		stepErr = ""
	}
	for i := range s.Steps {
		if s.Steps[i].Name == name {
			s.Steps[i].Status = status
			if stepErr != "" {
				s.Steps[i].Error = stepErr
			}
			return
		}
	}
	s.Steps = append(s.Steps, Step{Name: name, Status: status, Error: stepErr})
}

// errLostClaim means another run claimed the saga (this one's lease
// expired): this run stops without writing.
var errLostClaim = errors.New("saga claimed by another run")

// Store is the orchestrator's SQL.
type Store struct{ db *pgxpool.Pool }

// NewStore returns the store.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Create starts the saga of a payment with its steps pending and claims it
// for the caller; created is false when the payment has one already (a
// redelivered payment.success).
func (s *Store) Create(ctx context.Context, paymentID, bookingID string, trigger []byte, deadline time.Time) (Saga, bool, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Saga{}, false, dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	var id string
	err = tx.QueryRow(ctx, `INSERT INTO sagas (type, payment_id, booking_id, status, current_step, deadline_at, trigger_message, attempts)
		VALUES ('post-payment', $1, $2, 'running', $3, $4, $5, 1) ON CONFLICT (payment_id) DO NOTHING RETURNING id::text`,
		paymentID, bookingID, StepConfirm, deadline, trigger).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Saga{}, false, nil
	}
	if err != nil {
		return Saga{}, false, dbErr(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO saga_steps (saga_id, name) VALUES ($1, $2), ($1, $3)`, id, StepConfirm, StepNotify); err != nil {
		return Saga{}, false, dbErr(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Saga{}, false, dbErr(err)
	}
	sg, err := s.Get(ctx, id)
	return sg, true, err
}

// ClaimStale claims the live saga whose last change is the oldest and older
// than lease (its run died or stalled), or a dead-lettered saga whose
// retry_at came (its refund could not run: it is revived as compensating,
// with timeout more to try); ok is false when there is none.
func (s *Store) ClaimStale(ctx context.Context, lease, timeout time.Duration) (Saga, bool, error) {
	var id string
	err := s.db.QueryRow(ctx, `UPDATE sagas SET attempts = attempts + 1,
			status = CASE WHEN status = 'failed' THEN 'compensating' ELSE status END,
			deadline_at = CASE WHEN status = 'failed' THEN now() + make_interval(secs => $2) ELSE deadline_at END,
			finished_at = CASE WHEN status = 'failed' THEN NULL ELSE finished_at END
		WHERE id = (
			SELECT id FROM sagas WHERE (status IN ('running', 'compensating') AND updated_at < now() - make_interval(secs => $1))
				OR (status = 'failed' AND retry_at <= now())
			ORDER BY updated_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id::text`, lease.Seconds(), timeout.Seconds()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Saga{}, false, nil
	}
	if err != nil {
		return Saga{}, false, dbErr(err)
	}
	sg, err := s.Get(ctx, id)
	return sg, err == nil, err
}

const sagaColumns = `id::text, type, payment_id::text, booking_id::text, status, COALESCE(current_step, ''), COALESCE(last_error, ''),
	attempts, COALESCE(trigger_message, ''::bytea), deadline_at, created_at, updated_at`

func scanSaga(row pgx.Row) (Saga, error) {
	var sg Saga
	err := row.Scan(&sg.ID, &sg.Type, &sg.PaymentID, &sg.BookingID, &sg.Status, &sg.CurrentStep, &sg.LastError,
		&sg.Token, &sg.Trigger, &sg.DeadlineAt, &sg.CreatedAt, &sg.UpdatedAt)
	return sg, err
}

// Get reads a saga and its steps.
func (s *Store) Get(ctx context.Context, id string) (Saga, error) {
	sg, err := scanSaga(s.db.QueryRow(ctx, `SELECT `+sagaColumns+` FROM sagas WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Saga{}, errs.New(errs.NotFound, "saga not found")
	}
	if err != nil {
		return Saga{}, dbErr(err)
	}
	steps, err := s.steps(ctx, []string{id})
	sg.Steps = steps[id]
	return sg, err
}

func (s *Store) steps(ctx context.Context, ids []string) (map[string][]Step, error) {
	rows, err := s.db.Query(ctx, `SELECT saga_id::text, name, status, attempt, COALESCE(error, ''),
			COALESCE(started_at, 'epoch'), COALESCE(finished_at, 'epoch')
		FROM saga_steps WHERE saga_id = ANY($1::text[]::uuid[]) ORDER BY created_at, CASE name WHEN $2 THEN 0 WHEN $3 THEN 1 ELSE 2 END`,
		ids, StepConfirm, StepNotify)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := map[string][]Step{}
	for rows.Next() {
		var id string
		var st Step
		if err := rows.Scan(&id, &st.Name, &st.Status, &st.Attempt, &st.Error, &st.StartedAt, &st.FinishedAt); err != nil {
			return nil, dbErr(err)
		}
		st.StartedAt, st.FinishedAt = unepoch(st.StartedAt), unepoch(st.FinishedAt)
		out[id] = append(out[id], st)
	}
	return out, dbErr(rows.Err())
}

func unepoch(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t
}

// fenced runs fn in a transaction after checking that the run's claim
// still holds (and touching the saga, which renews its lease).
func (s *Store) fenced(ctx context.Context, sg *Saga, fn func(pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	tag, err := tx.Exec(ctx, `UPDATE sagas SET updated_at = now() WHERE id = $1 AND attempts = $2`, sg.ID, sg.Token)
	if err != nil {
		return dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return errLostClaim
	}
	if fn != nil {
		if err := fn(tx); err != nil {
			return err
		}
	}
	return dbErr(tx.Commit(ctx))
}

// Touch renews the run's lease.
func (s *Store) Touch(ctx context.Context, sg *Saga) error { return s.fenced(ctx, sg, nil) }

// StartStep records an attempt of a step starting (creating the step row
// when the saga adds it late, as the refund step).
func (s *Store) StartStep(ctx context.Context, sg *Saga, name string) (int, error) {
	var attempt int
	err := s.fenced(ctx, sg, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE sagas SET current_step = $2 WHERE id = $1`, sg.ID, name); err != nil {
			return dbErr(err)
		}
		return dbErr(tx.QueryRow(ctx, `INSERT INTO saga_steps (saga_id, name, status, attempt, started_at) VALUES ($1, $2, 'running', 1, now())
			ON CONFLICT (saga_id, name) DO UPDATE SET status = 'running', attempt = saga_steps.attempt + 1,
				started_at = COALESCE(saga_steps.started_at, now())
			RETURNING attempt`, sg.ID, name).Scan(&attempt))
	})
	return attempt, err
}

// SetDeadline moves the saga's deadline to at.
func (s *Store) SetDeadline(ctx context.Context, sg *Saga, at time.Time) error {
	return s.fenced(ctx, sg, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sagas SET deadline_at = $2 WHERE id = $1`, sg.ID, at)
		if err == nil {
			sg.DeadlineAt = at
		}
		return dbErr(err)
	})
}

// StepError records a failed attempt that will be retried.
func (s *Store) StepError(ctx context.Context, sg *Saga, name, msg string) error {
	return s.fenced(ctx, sg, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE saga_steps SET error = $3 WHERE saga_id = $1 AND name = $2`, sg.ID, name, msg)
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE sagas SET last_error = $2 WHERE id = $1`, sg.ID, name+": "+msg)
		}
		return dbErr(err)
	})
}

// Transition ends steps (name -> status, with an error text for failures)
// and moves the saga to status, in one transaction. A final status
// finishes the saga.
func (s *Store) Transition(ctx context.Context, sg *Saga, status, lastErr string, steps map[string]string, stepErr string) error {
	return s.fenced(ctx, sg, func(tx pgx.Tx) error {
		return transition(ctx, tx, sg, status, lastErr, steps, stepErr)
	})
}

func transition(ctx context.Context, tx pgx.Tx, sg *Saga, status, lastErr string, steps map[string]string, stepErr string) error {
	for name, st := range steps {
		e := ""
		if st == StepFailed || st == StepSkipped {
			e = stepErr
		}
		if _, err := tx.Exec(ctx, `INSERT INTO saga_steps (saga_id, name, status, error, started_at, finished_at)
				VALUES ($1, $2, $3, NULLIF($4, ''), now(), now())
			ON CONFLICT (saga_id, name) DO UPDATE SET status = $3, error = COALESCE(NULLIF($4, ''), saga_steps.error),
				started_at = COALESCE(saga_steps.started_at, now()), finished_at = now()`, sg.ID, name, st, e); err != nil {
			return dbErr(err)
		}
	}
	final := status == StatusCompleted || status == StatusCompensated || status == StatusFailed
	_, err := tx.Exec(ctx, `UPDATE sagas SET status = $2, last_error = COALESCE(NULLIF($3, ''), last_error),
			current_step = CASE WHEN $4 THEN NULL ELSE current_step END,
			finished_at = CASE WHEN $4 THEN now() ELSE NULL END WHERE id = $1`, sg.ID, status, lastErr, final)
	if err == nil {
		sg.Status = status
		for name, st := range steps {
			sg.setStep(name, st, stepErr)
		}
	}
	return dbErr(err)
}

// Fail ends the saga as failed and, the first time, dead-letters its
// payment.success message (table and topic, through the outbox), in one
// transaction; first says whether it did. A non-zero retryAt revives the
// saga then (ClaimStale); zero leaves it failed for good.
func (s *Store) Fail(ctx context.Context, sg *Saga, step, msg string, attempts int, trigger proto.Message, retryAt time.Time) (first bool, err error) {
	err = s.fenced(ctx, sg, func(tx pgx.Tx) error {
		var before *time.Time
		if err := tx.QueryRow(ctx, `SELECT retry_at FROM sagas WHERE id = $1`, sg.ID).Scan(&before); err != nil {
			return dbErr(err)
		}
		if err := transition(ctx, tx, sg, StatusFailed, step+": "+msg, map[string]string{step: StepFailed}, msg); err != nil {
			return err
		}
		var at *time.Time
		if !retryAt.IsZero() {
			at = &retryAt
		}
		if _, err := tx.Exec(ctx, `UPDATE sagas SET retry_at = $2 WHERE id = $1`, sg.ID, at); err != nil {
			return dbErr(err)
		}
		if first = before == nil; !first {
			return nil // dead-lettered when it first failed
		}
		return deadLetter(ctx, tx, sg.ID, sg.PaymentID, sg.Trigger, step+": "+msg, attempts, trigger)
	})
	return first, err
}

func deadLetter(ctx context.Context, tx pgx.Tx, sagaID, key string, payload []byte, msg string, attempts int, trigger proto.Message) error {
	if err := deadletter.Record(ctx, tx, deadletter.Letter{Source: "saga", Topic: TopicPaymentSuccess, Key: key, Payload: payload,
		Headers: map[string]string{"saga_id": sagaID}, Error: msg, Attempts: attempts}); err != nil {
		return dbErr(err)
	}
	if trigger == nil {
		return nil
	}
	return dbErr(outbox.Insert(ctx, tx, outbox.Message{
		AggregateType: "saga", AggregateID: sagaID, EventType: TopicDeadLetter, Topic: TopicDeadLetter, Key: key,
		Payload: trigger, Headers: map[string]string{"saga-id": sagaID, "source-topic": TopicPaymentSuccess, "error": msg,
			"attempts": fmt.Sprint(attempts)},
	}))
}

// DeadLetterRaw records a message that cannot even start a saga.
func (s *Store) DeadLetterRaw(ctx context.Context, partition int32, offset int64, key string, payload []byte, msg string) error {
	return dbErr(deadletter.Record(ctx, s.db, deadletter.Letter{Source: "saga", Topic: TopicPaymentSuccess,
		Partition: &partition, Offset: &offset, Key: key, Payload: payload, Error: msg, Attempts: 1}))
}

// ListFilter selects sagas.
type ListFilter struct {
	Status, BookingID string
	Page, PerPage     int
}

// List pages sagas, newest first.
func (s *Store) List(ctx context.Context, f ListFilter) ([]Saga, int, error) {
	where := `($1 = '' OR status = $1) AND ($2 = '' OR booking_id::text = $2)`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM sagas WHERE `+where, f.Status, f.BookingID).Scan(&total); err != nil {
		return nil, 0, dbErr(err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+sagaColumns+` FROM sagas WHERE `+where+` ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`,
		f.Status, f.BookingID, f.PerPage, (f.Page-1)*f.PerPage)
	if err != nil {
		return nil, 0, dbErr(err)
	}
	var out []Saga
	var ids []string
	for rows.Next() {
		sg, err := scanSaga(rows)
		if err != nil {
			rows.Close()
			return nil, 0, dbErr(err)
		}
		out = append(out, sg)
		ids = append(ids, sg.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, dbErr(err)
	}
	steps, err := s.steps(ctx, ids)
	for i := range out {
		out[i].Steps = steps[out[i].ID]
	}
	return out, total, err
}

// DeadLetter is a dead_letters row.
type DeadLetter struct {
	ID, SagaID, Topic, Key, Error string
	Payload                       []byte
	Attempts                      int
	CreatedAt                     time.Time
}

// DeadLetters pages the dead letters of every source, newest first.
func (s *Store) DeadLetters(ctx context.Context, page, perPage int) ([]DeadLetter, int, error) {
	ls, total, err := deadletter.List(ctx, s.db, page, perPage)
	if err != nil {
		return nil, 0, dbErr(err)
	}
	out := make([]DeadLetter, len(ls))
	for i, l := range ls {
		out[i] = DeadLetter{ID: l.ID, SagaID: l.Headers["saga_id"], Topic: l.Topic, Key: l.Key, Error: l.Error,
			Payload: l.Payload, Attempts: l.Attempts, CreatedAt: l.CreatedAt}
	}
	return out, total, nil
}

// dbErr turns a Postgres failure into SERVICE_UNAVAILABLE (domain errors
// and the lost-claim signal pass through).
func dbErr(err error) error {
	if errors.Is(err, errLostClaim) {
		return err
	}
	return postgres.StoreError("the saga store", err)
}
