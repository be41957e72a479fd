-- Zones the catalog deleted from an event on sale (DropZones: nobody had
-- reserved from them). A zone id is never used again, so the row is kept for
-- good: a load whose snapshot the catalog read before the deletion, arriving
-- after it, must not write the zone back into booking_zones (and from there
-- into Redis, where it would sell seats of a zone the catalog no longer has).
CREATE TABLE booking_dropped_zones (
    zone_id    uuid        PRIMARY KEY,
    event_id   uuid        NOT NULL,
    dropped_at timestamptz NOT NULL DEFAULT now()
);
