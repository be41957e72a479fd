-- When the booking service first loaded an event's inventory into Redis (set
-- before the load is written). An event whose inventory Redis does not have
-- is loaded plainly from Postgres only when loaded_at is NULL (nothing ever
-- changed in Redis); otherwise Redis lost it, and the load is the fenced,
-- drained rebuild: changes of the lost Redis may still be on their way to
-- Postgres (relayed to Kafka, not yet persisted). Before, bookings in
-- Postgres were the sign, and a load right after a loss whose holds had not
-- reached Postgres yet wrote Redis unfenced: the holds persisted afterwards
-- were counted in Postgres and never in Redis.
ALTER TABLE booking_events ADD COLUMN loaded_at timestamptz;
-- Events loaded before the column existed: every event past draft may have
-- had a Redis life (the rebuild costs a drain, never a seat).
UPDATE booking_events SET loaded_at = updated_at WHERE status <> 'draft';
