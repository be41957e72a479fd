-- A zone's line in Postgres, in line order: booking reads the buyers still
-- waiting from here (ListWaitlisted: a cancelled event's buyers are told
-- even when Redis lost the event; the rebuild's snapshot), a page at a
-- time by join sequence, and counts the places ahead.
CREATE INDEX waitlist_entries_waiting_idx ON waitlist_entries (event_id, zone_id, seq) WHERE ended_at IS NULL;
