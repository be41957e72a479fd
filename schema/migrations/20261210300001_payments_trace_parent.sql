-- The trace that created a payment (its W3C traceparent), sent in the
-- provider intent's metadata. Kept so that every creation of the intent
-- under the payment's idempotency key sends the same parameters: Stripe
-- refuses a key's retry with other parameters (idempotency_error), and a
-- retry's own trace differs from the first call's.
ALTER TABLE payments
    ADD COLUMN trace_parent text;
