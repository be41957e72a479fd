-- Zone counters mirrored from the booking engine's Redis inventory by the
-- persister: held and sold next to available, so the invariant
-- available + held + sold = total holds in Postgres too, and a version so
-- that events applied out of order never move a counter backwards.
ALTER TABLE seat_zones
    ADD COLUMN held_seats        integer NOT NULL DEFAULT 0 CHECK (held_seats >= 0),
    ADD COLUMN sold_seats        integer NOT NULL DEFAULT 0 CHECK (sold_seats >= 0),
    ADD COLUMN inventory_version bigint  NOT NULL DEFAULT 0 CHECK (inventory_version >= 0),
    ADD CONSTRAINT seat_zones_inventory_check CHECK (available_seats + held_seats + sold_seats = total_seats);
