-- What analytics counted for each booking: the revenue of its confirmation
-- (counted_cents) and the refunds seen for it (refunded_cents). A refund
-- takes back revenue only up to what was counted, so the refund of a paid
-- hold that was never confirmed (a buyer's cancel before the saga
-- confirmed, an event cancelled meanwhile) takes nothing back, in whatever
-- order the two topics arrive. Bookings from before this column have NULL:
-- their refunds are taken back in full, as before.
ALTER TABLE analytics_bookings ADD COLUMN counted_cents bigint;
ALTER TABLE analytics_bookings ALTER COLUMN counted_cents SET DEFAULT 0;
ALTER TABLE analytics_bookings ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0;
