-- A refund's execution calls the payment provider outside any transaction: a
-- short transaction claims it (refund_claimed_at), the provider is called, and
-- a second short transaction records the outcome and clears the claim. Before,
-- the payment's row lock and a Postgres connection were held for the length
-- of the provider's answer (an event cancellation's 8 parallel refunds held 8
-- connections). A claim younger than the payment service's lease is an
-- attempt under way, which others wait for; an older one is of an attempt
-- that died (its process crashed) or could not release it, and the next
-- attempt asks the provider for the refund it may have made before it
-- refunds (Provider.FindRefund).
ALTER TABLE payments
    ADD COLUMN refund_claimed_at timestamptz;
