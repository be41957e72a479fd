-- The rest of a payment's price its buyer is owed once a refund that failed
-- at the provider is made good: an organizer cancelled the event (everyone
-- gets 100%) while the refund of the buyer's own cancel (50% or nothing
-- under the policy) had failed. The share that failed is given back first
-- (an admin's retry, or a record of money given back outside the provider),
-- then this rest, under the cause named here (REFUND_CAUSE_ORGANIZER_CANCELLED),
-- as an event's cancellation gives it to every buyer who had cancelled;
-- NULL once given (or when none is due).
ALTER TABLE payments
    ADD COLUMN rest_due_cause text CHECK (rest_due_cause IN ('REFUND_CAUSE_ORGANIZER_CANCELLED', 'REFUND_CAUSE_SUPPORT'));
CREATE INDEX payments_rest_due_idx ON payments (id) WHERE rest_due_cause IS NOT NULL;
