-- The records of waitlist places that ended, by when: booking deletes the
-- ones older than booking.waitlist-retention (30 days by default), hourly.
CREATE INDEX waitlist_entries_ended_idx ON waitlist_entries (ended_at) WHERE ended_at IS NOT NULL;
