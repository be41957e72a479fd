-- When an event went on sale and when (and why) it was called off: the
-- catalog answers published_at, and the refunds of a cancelled event (every
-- confirmed booking, 100%) quote the organizer's reason.
ALTER TABLE events
    ADD COLUMN published_at  timestamptz,
    ADD COLUMN cancelled_at  timestamptz,
    ADD COLUMN cancel_reason text CHECK (length(cancel_reason) <= 500);
