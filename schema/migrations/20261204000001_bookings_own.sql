-- bookings stops referencing other services' tables (docs/ownership.md): its
-- rows come from the booking service's own snapshot (booking_zones,
-- booking_events) and the caller's verified token, so the catalog's and
-- auth's rows need not exist, or stay, for a booking to be written. Each of
-- these keys was also a lookup and a row lock in another service's table for
-- every hold the persister writes (about 15-20 µs of Postgres CPU per row,
-- bench/RESULTS.md). No query reads bookings by show.
ALTER TABLE bookings DROP CONSTRAINT bookings_user_id_fkey;
ALTER TABLE bookings DROP CONSTRAINT bookings_event_id_fkey;
ALTER TABLE bookings DROP CONSTRAINT bookings_show_id_fkey;
ALTER TABLE bookings DROP CONSTRAINT bookings_zone_id_fkey;
DROP INDEX bookings_show_idx;
