-- Seats a confirmed booking gave back when it was cancelled or refunded
-- (seats_returned, in the hour and day of the cancellation), and the seats
-- each booking's confirmation counted (analytics_bookings.sold_seats), so a
-- booking gives its seats back once, whichever of its cancellation and
-- refund statuses comes first. The reports' tickets sold are seats_sold
-- less seats_returned: a refunded ticket is no longer sold, and its seat,
-- sold again, is not counted twice. Bookings confirmed before this column
-- have 0: their cancellations give nothing back, as before.
ALTER TABLE analytics_event_daily ADD COLUMN seats_returned bigint NOT NULL DEFAULT 0 CHECK (seats_returned >= 0);
ALTER TABLE analytics_event_hourly ADD COLUMN seats_returned bigint NOT NULL DEFAULT 0 CHECK (seats_returned >= 0);
ALTER TABLE analytics_bookings ADD COLUMN sold_seats bigint NOT NULL DEFAULT 0;
