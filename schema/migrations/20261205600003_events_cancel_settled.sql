-- A cancelled event's sales must stop and its paid bookings be refunded,
-- even when the organizer's cancel call answered 503 half-way and nobody
-- cancels again: the catalog finishes every cancelled event whose
-- cancel_settled_at is empty (catalog.cancel-retry). Events cancelled
-- before this column were finished by their organizers' calls.
ALTER TABLE events ADD COLUMN cancel_settled_at timestamptz;
UPDATE events SET cancel_settled_at = cancelled_at WHERE status = 'cancelled';
CREATE INDEX events_cancel_unsettled_idx ON events (cancelled_at) WHERE status = 'cancelled' AND cancel_settled_at IS NULL;
