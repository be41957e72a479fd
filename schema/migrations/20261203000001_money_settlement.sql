-- Every payment ends in a ticket or a refund: what the payment service needs
-- to finish a refund it started, to settle payments the saga could not, and
-- to answer a retried CreatePayment; unique booking references; sagas that
-- come back from the dead letter.

-- booking_reference is the human-friendly reference of a booking: "BR-" and
-- 60 random bits of its id (the rand_b bits of a UUIDv7; the last 15 hex
-- digits) in Crockford base32, grouped by four: BR-7KQD-M2XH-9TFA. Go has
-- the same function (services/platform/bookingref); a test keeps them equal.
CREATE FUNCTION booking_reference(id uuid) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    bits bigint := ('x' || substr(replace(id::text, '-', ''), 18, 15))::bit(60)::bigint;
    s text := '';
BEGIN
    FOR i IN REVERSE 11..0 LOOP
        s := s || substr(alphabet, ((bits >> (i * 5)) & 31)::int + 1, 1);
    END LOOP;
    RETURN 'BR-' || substr(s, 1, 4) || '-' || substr(s, 5, 4) || '-' || substr(s, 9, 4);
END;
$$;

-- The reference is derived from the id, so the persister, the API and the
-- mails agree without storing it anywhere else; the index makes it unique
-- (a clash of 60 random bits is refused, never silently shared) and lets
-- support find a booking by it.
ALTER TABLE bookings
    ADD COLUMN reference text GENERATED ALWAYS AS (booking_reference(id)) STORED,
    -- Why a booking ended: buyer, expired, event_cancelled or system (a
    -- refund the system decided); NULL while it lives.
    ADD COLUMN cancel_cause text CHECK (cancel_cause IN ('buyer', 'expired', 'event_cancelled', 'system'));
CREATE UNIQUE INDEX bookings_reference_key ON bookings (reference);

-- Payments:
-- - idempotency_key: the Idempotency-Key of CreatePayment, unique per payer:
--   a retry answers the payment the first call created.
-- - refund_percent, refund_cause, refund_requested_at: a refund is decided
--   and recorded first, then the booking's seats are released, then the
--   money goes back; a refund interrupted between those steps is finished
--   with the recorded decision (never decided again on a changed booking).
-- - settled_at: when the booking of a succeeded payment was seen confirmed
--   (the reconciler's mark; a refunded payment is settled by refunded_at).
ALTER TABLE payments
    ADD COLUMN idempotency_key     text CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    ADD COLUMN refund_percent      smallint CHECK (refund_percent BETWEEN 0 AND 100),
    ADD COLUMN refund_cause        text,
    ADD COLUMN refund_requested_at timestamptz,
    ADD COLUMN settled_at          timestamptz,
    ADD CONSTRAINT payments_refund_request_check CHECK (
        (refund_requested_at IS NULL) = (refund_percent IS NULL));
CREATE UNIQUE INDEX payments_user_idempotency_key ON payments (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The reconciler's three scans.
CREATE INDEX payments_unsettled_idx ON payments (succeeded_at)
    WHERE status = 'succeeded' AND settled_at IS NULL AND refund_requested_at IS NULL;
CREATE INDEX payments_refund_pending_idx ON payments (refund_requested_at)
    WHERE refund_requested_at IS NOT NULL AND refunded_at IS NULL;
-- (pending and processing payments use payments_status_idx)

-- A dead-lettered saga still holds money: it is run again at retry_at (when
-- its dependency may be back) until it ends compensated or completed.
ALTER TABLE sagas ADD COLUMN retry_at timestamptz;
CREATE INDEX sagas_retry_idx ON sagas (retry_at) WHERE status = 'failed' AND retry_at IS NOT NULL;
