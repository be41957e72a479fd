package booking

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingrush/rush/services/platform/groupcommit"
)

// The waitlists' durable copy (waitlist_entries): one row per buyer and
// zone, at the buyer's latest join sequence (seq, the entry's score in
// Redis: the line's order), waiting or ended. Redis decides; these rows
// follow it, so that a rebuild of the inventory (load.lua) writes every
// line back as it was. A join's row and its end are written by different
// callers (the joining call; the leave, the close, the account's deletion,
// or the persister for an offer) in no set order, so every write moves a
// row forward by seq only: a join is kept over an older seq, an end ends
// the rows up to its seq and is written even without a row (a tombstone),
// so the join's row arriving after its end stays ended.

// waitlistEnd is the end of a buyer's place on a zone's waitlist: no join
// of the buyer to the zone up to join sequence Seq is waiting any more. At
// is when it ended, by Redis's clock.
type waitlistEnd struct {
	EventID, ZoneID, UserID string
	Seq                     int64
	At                      time.Time
}

// closedLines are the places a close took off zones' waitlists (at, by
// Redis's clock): a cancelled event's lines, or a started show's.
type closedLines struct {
	eventID string
	zones   []string
	ends    []waitlistEnd
	at      time.Time
}

const (
	// recordJoins writes joins' rows (an event; arrays: zone, user, seq,
	// quantity, when); a row of a later join, or of this one ended already
	// (its end arrived first), stays.
	recordJoins = `
INSERT INTO waitlist_entries (event_id, zone_id, user_id, seq, quantity, joined_at)
SELECT $1, z, u, s, q, at
  FROM unnest($2::text[]::uuid[], $3::text[]::uuid[], $4::bigint[], $5::int[], $6::timestamptz[]) AS w(z, u, s, q, at)
ON CONFLICT (event_id, zone_id, user_id) DO UPDATE
   SET seq = excluded.seq, quantity = excluded.quantity, joined_at = excluded.joined_at, ended_at = NULL
 WHERE waitlist_entries.seq < excluded.seq`

	// recordEnds ends places (arrays: event, zone, user, seq, when): the
	// row of that join or of an older one ends, a later join's stays, and
	// a place without a row gets one, ended. As the persister's bookings,
	// an end stamped at or before its event's fence is left out: it
	// belongs to a Redis state the rebuild replaced.
	recordEnds = `
INSERT INTO waitlist_entries (event_id, zone_id, user_id, seq, quantity, ended_at)
SELECT e, z, u, s, 0, at
  FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[], $4::bigint[], $5::timestamptz[]) AS w(e, z, u, s, at)
 WHERE NOT EXISTS (SELECT 1 FROM booking_events b WHERE b.event_id = w.e AND b.fenced_at >= w.at)
ON CONFLICT (event_id, zone_id, user_id) DO UPDATE SET seq = excluded.seq, ended_at = excluded.ended_at
 WHERE waitlist_entries.seq < excluded.seq OR (waitlist_entries.seq = excluded.seq AND waitlist_entries.ended_at IS NULL)`

	// fencedSince answers whether an event of the arrays (event, when) was
	// fenced at or after its time.
	fencedSince = `
SELECT EXISTS (SELECT 1 FROM unnest($1::text[]::uuid[], $2::timestamptz[]) AS f(e, at)
                 JOIN booking_events b ON b.event_id = f.e WHERE b.fenced_at >= f.at)`
)

// queueEnds queues the ends (recordEnds), one per buyer and zone (the
// latest), in one order: the persister's partitions end rows at the same
// time, and rows locked in different orders deadlock.
func queueEnds(b *pgx.Batch, ends []waitlistEnd) {
	if len(ends) == 0 {
		return
	}
	ends = slices.Clone(ends)
	slices.SortFunc(ends, func(x, y waitlistEnd) int {
		return cmp.Or(cmp.Compare(x.EventID, y.EventID), cmp.Compare(x.ZoneID, y.ZoneID), cmp.Compare(x.UserID, y.UserID),
			cmp.Compare(y.Seq, x.Seq))
	})
	// One row may not be changed twice by one statement: the first of each
	// place (its latest join) ends the older ones too.
	ends = slices.CompactFunc(ends, func(x, y waitlistEnd) bool {
		return x.EventID == y.EventID && x.ZoneID == y.ZoneID && x.UserID == y.UserID
	})
	n := len(ends)
	events, zones, users, seqs, at := make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([]time.Time, n)
	for i, e := range ends {
		events[i], zones[i], users[i], seqs[i], at[i] = e.EventID, e.ZoneID, e.UserID, e.Seq, e.At
	}
	b.Queue(recordEnds, events, zones, users, seqs, at)
}

// errFencedOut means a waitlist change happened in a Redis state that an
// event's rebuild replaced after: it is not recorded (the rebuilt line
// does not have it either), and the caller answers "retry".
var errFencedOut = errors.New("the event's inventory was rebuilt after this change")

// recordWaitlist runs write in a transaction that holds the shared side of
// the fence lock of each event of at (event -> the Redis time of the change
// it records), as the persister does: a rebuild's fence waits for it, so
// what it writes is in the rebuild's snapshot, or it sees the fence and
// writes nothing (errFencedOut).
func (s *Store) recordWaitlist(ctx context.Context, at map[string]time.Time, write func(*pgx.Batch)) error {
	events := slices.Sorted(maps.Keys(at))
	times := make([]time.Time, len(events))
	for i, ev := range events {
		times[i] = at[ev]
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var fenced bool
		var b pgx.Batch
		b.Queue(lockFences, events)
		b.Queue(fencedSince, events, times).QueryRow(func(r pgx.Row) error { return r.Scan(&fenced) })
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
		if fenced {
			return errFencedOut
		}
		var w pgx.Batch
		write(&w)
		return tx.SendBatch(ctx, &w).Close()
	})
	if errors.Is(err, errFencedOut) {
		return errRebuilding
	}
	return dbUnavailable(err)
}

// recordJoined makes a join durable: the row of the user's place on the
// zone's waitlist, at join sequence seq for quantity seats, joined at at
// (Redis's clock). The joins of an event that arrive together are written
// in one transaction (joinRecorder): a sold-out zone's line may take
// thousands of joins a second, each one Postgres transaction otherwise.
func (s *Store) recordJoined(ctx context.Context, eventID, zoneID, userID string, seq int64, quantity int, at time.Time) error {
	c := &joinRecord{ctx: ctx, zoneID: zoneID, userID: userID, seq: seq, quantity: quantity, at: at, done: make(chan struct{})}
	s.joins.Add(eventID, c)
	<-c.done
	return c.err
}

// joinRecord is one join waiting for its row (a groupcommit.Caller).
type joinRecord struct {
	ctx            context.Context
	zoneID, userID string
	seq            int64
	quantity       int
	at             time.Time
	err            error
	done           chan struct{}
}

func (c *joinRecord) Context() context.Context { return c.ctx }

// Fail answers c unavailable: its caller gave up, nothing was written for it.
func (c *joinRecord) Fail(err error) { c.err = dbUnavailable(err); close(c.done) }

// joinRecordsInFlight is how many transactions of one event's joins one
// process keeps under way; the joins that arrive meanwhile leave together.
const joinRecordsInFlight = 2

// maxJoinRecords bounds the rows of one transaction.
const maxJoinRecords = 256

func newJoinRecorder(s *Store) *groupcommit.Batcher[string, *joinRecord] {
	return groupcommit.New(maxJoinRecords, joinRecordsInFlight, s.writeJoins)
}

// writeJoins writes one event's joins in one transaction (recordWaitlist,
// as of the earliest: when the event was fenced for a rebuild since, every
// join of the batch is refused and taken back, the ones made after the
// rebuild too; their buyers retry).
func (s *Store) writeJoins(eventID string, batch []*joinRecord) {
	live := groupcommit.Live(batch)
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupcommit.Bound(context.Background(), live, false)
	defer cancel()
	// One row may not be changed twice by one statement: a buyer's joins
	// again of a zone, sent together, carry one place (the latest).
	rows := slices.Clone(live)
	slices.SortFunc(rows, func(x, y *joinRecord) int {
		return cmp.Or(cmp.Compare(x.zoneID, y.zoneID), cmp.Compare(x.userID, y.userID), cmp.Compare(y.seq, x.seq))
	})
	rows = slices.CompactFunc(rows, func(x, y *joinRecord) bool { return x.zoneID == y.zoneID && x.userID == y.userID })
	n := len(rows)
	zones, users, seqs, qty, at := make([]string, n), make([]string, n), make([]int64, n), make([]int32, n), make([]time.Time, n)
	first := rows[0].at
	for i, r := range rows {
		zones[i], users[i], seqs[i], qty[i], at[i] = r.zoneID, r.userID, r.seq, int32(r.quantity), r.at
		if r.at.Before(first) {
			first = r.at
		}
	}
	err := s.recordWaitlist(ctx, map[string]time.Time{eventID: first}, func(b *pgx.Batch) {
		b.Queue(recordJoins, eventID, zones, users, seqs, qty, at)
	})
	for _, c := range live {
		c.err = err
		close(c.done)
	}
}

// recordEnded ends places (each event's ended by one Redis step).
func (s *Store) recordEnded(ctx context.Context, ends []waitlistEnd) error {
	if len(ends) == 0 {
		return nil
	}
	return s.recordWaitlist(ctx, endedAt(ends), func(b *pgx.Batch) { queueEnds(b, ends) })
}

// endedAt maps each event of ends to when its places ended.
func endedAt(ends []waitlistEnd) map[string]time.Time {
	at := make(map[string]time.Time, 1)
	for _, e := range ends {
		at[e.EventID] = e.At
	}
	return at
}

// recordClosed ends the places a close took off the lines, and every other
// row of those zones still waiting (the rows a failed earlier close left:
// a line once closed never comes back).
func (s *Store) recordClosed(ctx context.Context, c closedLines) error {
	return s.recordWaitlist(ctx, map[string]time.Time{c.eventID: c.at}, func(b *pgx.Batch) {
		queueEnds(b, c.ends)
		b.Queue(`UPDATE waitlist_entries SET ended_at = $3
			WHERE event_id = $1 AND zone_id::text = ANY($2::text[]) AND ended_at IS NULL`, c.eventID, c.zones, c.at)
	})
}

// recordForgotten ends the places a deleted account was taken off (ends,
// of any events), and every other row of the account still waiting: a
// line of an event no longer on sale (forget_user.lua leaves those in
// Redis, where nothing is offered) must not come back with a rebuild.
func (s *Store) recordForgotten(ctx context.Context, userID string, ends []waitlistEnd) error {
	return s.recordWaitlist(ctx, endedAt(ends), func(b *pgx.Batch) {
		queueEnds(b, ends)
		b.Queue(`UPDATE waitlist_entries SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL`, userID)
	})
}

// recordLeftUnloaded ends the user's place on a zone's waitlist of an
// event that has no inventory in Redis and none coming (not on sale): no
// line holds it there, and none may bring it back.
func (s *Store) recordLeftUnloaded(ctx context.Context, eventID, zoneID, userID string) error {
	_, err := s.db.Exec(ctx, `UPDATE waitlist_entries SET ended_at = now()
		WHERE event_id = $1 AND zone_id = $2 AND user_id = $3 AND ended_at IS NULL`, eventID, zoneID, userID)
	return dbUnavailable(err)
}

// waiting reads the event's waitlist entries still waiting, by zone and
// join sequence, and the event's last join sequence (of every row, ended
// ones too: a rebuilt line's joins go on after them).
func waiting(ctx context.Context, tx pgx.Tx, eventID string) ([]WaitingEntry, int64, error) {
	var last int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM waitlist_entries WHERE event_id = $1`, eventID).Scan(&last); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, `SELECT zone_id::text, user_id::text, seq, quantity FROM waitlist_entries
		WHERE event_id = $1 AND ended_at IS NULL ORDER BY zone_id, seq`, eventID)
	if err != nil {
		return nil, 0, err
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WaitingEntry, error) {
		var w WaitingEntry
		err := r.Scan(&w.ZoneID, &w.UserID, &w.Seq, &w.Quantity)
		return w, err
	})
	return entries, last, err
}

// waitingPage is a page of a zone's waitlist (Store.waitlisted).
type waitingPage struct {
	users []string
	qty   []int
	// seq are the entries' join numbers (their scores in Redis), first is
	// the place of the first (1 first), waiting the line's length.
	seq            []int64
	first, waiting int
}

// waitlisted reads up to n of a zone's waiting rows whose join number is
// after after (0: from the first), in line order, with the place of the
// first and the line's length (rows still waiting). Paging by join
// number, not by place, skips nobody when someone ahead leaves between two
// pages. One round trip; waitlist_entries_waiting_idx serves it.
func (s *Store) waitlisted(ctx context.Context, eventID, zoneID string, after int64, n int) (waitingPage, error) {
	const line = ` FROM waitlist_entries WHERE event_id = $1 AND zone_id = $2 AND ended_at IS NULL`
	var page waitingPage
	var b pgx.Batch
	b.Queue(`SELECT count(*) FILTER (WHERE seq <= $3), count(*)`+line, eventID, zoneID, after).
		QueryRow(func(r pgx.Row) error {
			var ahead int
			err := r.Scan(&ahead, &page.waiting)
			page.first = ahead + 1
			return err
		})
	b.Queue(`SELECT user_id::text, seq, quantity`+line+` AND seq > $3 ORDER BY seq LIMIT $4`, eventID, zoneID, after, n).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var u string
				var seq int64
				var q int
				if err := rows.Scan(&u, &seq, &q); err != nil {
					return err
				}
				page.users, page.seq, page.qty = append(page.users, u), append(page.seq, seq), append(page.qty, q)
			}
			return rows.Err()
		})
	if err := s.db.SendBatch(ctx, &b).Close(); err != nil {
		return waitingPage{}, dbUnavailable(err)
	}
	return page, nil
}

// pruneEvery is how often each booking process deletes the waitlist
// records that ended more than booking.waitlist-retention ago.
const pruneEvery = time.Hour

// pruneBatch bounds the rows one statement of pruneWaitlist deletes.
const pruneBatch = 5000

// pruneWaitlist deletes the rows of waitlist places that ended more than
// retention ago (by the clock of the Redis step that ended them, or
// Postgres' for the ends it stamps), a batch per statement (rows another
// replica's pass or a record holds are skipped, not waited for), and
// answers how many. A row still waiting is never deleted, whatever its
// age. An ended row only has to outlive the join record it may arrive
// before (moments: a join is recorded before it is answered); once gone,
// the buyer's next join writes a new row, and a rebuild's join sequence,
// the highest of the rows left, is still ahead of every row left.
func (s *Store) pruneWaitlist(ctx context.Context, retention time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, `WITH old AS (
			SELECT event_id, zone_id, user_id FROM waitlist_entries
			 WHERE ended_at < now() - make_interval(secs => $1) LIMIT $2 FOR UPDATE SKIP LOCKED)
			DELETE FROM waitlist_entries w USING old
			 WHERE w.event_id = old.event_id AND w.zone_id = old.zone_id AND w.user_id = old.user_id`, retention.Seconds(), pruneBatch)
		if err != nil {
			return total, dbUnavailable(err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch || ctx.Err() != nil {
			return total, nil
		}
	}
}
