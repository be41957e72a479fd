-- A payment remembers when the hold it pays for expires (booking.hold-ttl, or
-- booking.waitlist-offer-ttl for a waitlist offer: the payment service cannot
-- know which), and when the reconciler last found its intent still open at the
-- provider. The reconciler cancels an intent nobody finished only once the hold
-- expired: before, it did so payment.stale-after after the payment's creation,
-- cutting off a buyer still paying a hold that lives longer (a 30-minute offer
-- against 15 minutes). Rows from before have neither and are judged as before.
ALTER TABLE payments
    ADD COLUMN hold_expires_at timestamptz,
    ADD COLUMN intent_open_at  timestamptz;
