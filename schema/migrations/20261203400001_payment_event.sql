-- The event a payment is for: what an organizer's cancellation refunds is
-- found by the payment service in its own table, not by joining bookings
-- (one owner per table, docs/ownership.md). Existing payments learn it from
-- their booking once, here.
ALTER TABLE payments ADD COLUMN event_id uuid;
UPDATE payments p SET event_id = b.event_id FROM bookings b WHERE b.id = p.booking_id;
CREATE INDEX payments_event_succeeded_idx ON payments (event_id) WHERE status = 'succeeded';
