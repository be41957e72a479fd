-- A notification may be withdrawn: not sent, because what it announced no
-- longer held when its turn came. A confirmation waits for the gate's
-- tickets; a purchase refunded or cancelled before it went out has only
-- revoked ones, and its buyer is not told "confirmed" after the refund
-- (services/notify).
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'withdrawn'));
