-- Analytics owns its read model (docs/ownership.md): the aggregates no longer
-- reference the catalog's events (a report of an event the catalog deleted
-- keeps its figures), and the event of each booking, learnt from
-- booking.events, is kept here so a refund (payment.refunded names only its
-- booking) finds its event without reading the booking service's table.
ALTER TABLE analytics_event_daily DROP CONSTRAINT analytics_event_daily_event_id_fkey;
ALTER TABLE analytics_event_hourly DROP CONSTRAINT analytics_event_hourly_event_id_fkey;

CREATE TABLE analytics_bookings (
    booking_id uuid        PRIMARY KEY,
    event_id   uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
