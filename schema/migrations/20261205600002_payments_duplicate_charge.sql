-- A charge that arrives for a payment already marked failed (the buyer
-- retried a declined card in the same payment form, or the provider took
-- a payment whose creation timed out) is money taken all the same. When the
-- booking is by then paid another way, that charge is a duplicate: it is
-- refunded in full and never counts as the booking's charge, so it stays
-- out of the one-charge-per-booking index.
ALTER TABLE payments ADD COLUMN duplicate_charge boolean NOT NULL DEFAULT false;
DROP INDEX payments_booking_charge_key;
CREATE UNIQUE INDEX payments_booking_charge_key ON payments (booking_id) WHERE status <> 'failed' AND NOT duplicate_charge;
