-- An event's payments in every status, through one index: the organizer's
-- view of a cancelled event's refunds (GetEventRefunds) counts its paid
-- bookings whatever their refund's state, and is read again every few
-- seconds while refunds are in flight; the cancellation's own list
-- (SucceededOfEvent) takes partially refunded payments too, which the
-- index of succeeded ones alone did not serve.
CREATE INDEX payments_event_idx ON payments (event_id);
DROP INDEX payments_event_succeeded_idx;
