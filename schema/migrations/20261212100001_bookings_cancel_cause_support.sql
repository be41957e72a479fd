-- A booking ended by support: an admin refunded its payment in full
-- (payment's refund cause REFUND_CAUSE_SUPPORT), whatever the refund policy
-- would have given. It was recorded as the buyer's cancel, which the buyer
-- and the organizer then read on the booking.
ALTER TABLE bookings
    DROP CONSTRAINT bookings_cancel_cause_check,
    ADD CONSTRAINT bookings_cancel_cause_check
        CHECK (cancel_cause IN ('buyer', 'expired', 'event_cancelled', 'system', 'support'));
