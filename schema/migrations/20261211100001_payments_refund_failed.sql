-- A refund the provider accepted can fail afterwards (Stripe: the refund's
-- status becomes failed, e.g. the card was closed; the money returns to our
-- balance) or be cancelled. Such a payment is neither refunded nor settled:
-- it is 'refund_failed' (the buyer is owed what the failed refund carried),
-- until a person retries its refund (an admin's RefundPayment) and it
-- succeeds. Nothing retries it by itself: a refund to a closed card fails
-- again.
--
-- refunded_amount keeps what did come back (the share of a refund in two
-- parts that succeeded); refund_failures counts the refunds of the payment
-- that failed (a retry's provider idempotency key names it);
-- refund_failed_at and refund_failure_reason are the last failure's.
ALTER TABLE payments
    DROP CONSTRAINT payments_status_check,
    ADD CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'refunded', 'partially_refunded', 'refund_failed')),
    DROP CONSTRAINT payments_refund_status_check,
    ADD CONSTRAINT payments_refund_status_check CHECK (
        (status = 'refunded' AND refunded_amount = amount)
        OR (status = 'partially_refunded' AND refunded_amount > 0 AND refunded_amount < amount)
        OR (status = 'refund_failed' AND refunded_amount < amount AND refund_requested_at IS NOT NULL AND refunded_at IS NULL)
        OR (status NOT IN ('refunded', 'partially_refunded', 'refund_failed') AND refunded_amount = 0)),
    ADD COLUMN refund_failures       integer NOT NULL DEFAULT 0 CHECK (refund_failures >= 0),
    ADD COLUMN refund_failed_at      timestamptz,
    ADD COLUMN refund_failure_reason text CHECK (length(refund_failure_reason) <= 500);
CREATE INDEX payments_refund_failed_idx ON payments (refund_failed_at) WHERE status = 'refund_failed';

-- Each refund of ours that failed at the provider, once: Stripe reports a
-- failure by refund.failed and by refund.updated (different event ids), and
-- only the first one applies.
CREATE TABLE payment_refund_failures (
    provider   text        NOT NULL CHECK (provider <> ''),
    refund_id  text        NOT NULL CHECK (refund_id <> ''),
    payment_id uuid        NOT NULL REFERENCES payments (id),
    amount     numeric(10,2) NOT NULL CHECK (amount >= 0),
    status     text        NOT NULL CHECK (status IN ('failed', 'canceled')),
    reason     text        NOT NULL CHECK (length(reason) <= 500),
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, refund_id)
);
CREATE INDEX payment_refund_failures_payment_idx ON payment_refund_failures (payment_id);
