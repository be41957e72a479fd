-- When the booking service last rebuilt an event's inventory from Postgres
-- (Redis had lost it), by Redis's clock: the rebuild fences the event,
-- waits until the persister has written everything on booking.events, sets
-- fenced_at, then reads its snapshot. A change stamped at or before
-- fenced_at that reaches the persister later (a relay batch that was on its
-- way to Kafka when Redis lost the stream) belongs to the lost Redis state,
-- which the snapshot replaced: the persister leaves it out, or its hold
-- would be counted in Postgres and not in Redis (its seats sold twice, and
-- the hold never expired).
ALTER TABLE booking_events ADD COLUMN fenced_at timestamptz;
