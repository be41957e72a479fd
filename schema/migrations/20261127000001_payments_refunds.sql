-- Payments: one charge per booking, and a record of the booking's refund.

-- A booking is charged at most once: another payment may start only after
-- the previous one failed (two racing CreatePayment calls cannot both charge).
CREATE UNIQUE INDEX payments_booking_charge_key ON payments (booking_id) WHERE status <> 'failed';

-- refunded_at is set once, when the booking's refund is recorded, also when
-- the policy refunds 0% (the status then stays 'succeeded'): it is what makes
-- a refund happen at most once.
ALTER TABLE payments
    ADD COLUMN refunded_at      timestamptz,
    ADD COLUMN refund_reference text,
    ADD COLUMN refund_reason    text CHECK (length(refund_reason) <= 500),
    ADD CONSTRAINT payments_refunded_at_check CHECK (
        status NOT IN ('refunded', 'partially_refunded') OR refunded_at IS NOT NULL);

-- The payment.success message that started a saga, as received: the payload
-- of the saga's dead letter if it fails.
ALTER TABLE sagas ADD COLUMN trigger_message bytea;
