-- A booking's Idempotency-Key (reservation_id) replays within its event, for
-- booking.idempotency-ttl (24 h): the booking engine keeps each record under
-- the event's keys in Redis (one Redis Cluster slot per event), with that
-- TTL. Unique (user_id, reservation_id) was stricter than that: a user who
-- sent the same key to two events, or to one event a day apart, got two
-- holds in Redis, and the persister's write of the second was refused and
-- dead-lettered, a live booking Postgres never had (found by the edge's
-- random requests, which reuse keys). No query reads bookings by key.
ALTER TABLE bookings DROP CONSTRAINT bookings_user_reservation_key;
