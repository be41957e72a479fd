-- The booking service's own copy of what it sells (issue 17: one owner per
-- table). The catalog sends an event's snapshot in LoadInventory (at publish
-- and at every change of its sale settings); booking keeps it here and
-- builds its Redis inventory from it, so neither the reserve path nor a
-- rebuild reads the catalog's tables. The zone counters here are the
-- persister's durable copy of Redis (the catalog keeps its own seat_zones
-- counters from booking.events).
CREATE TABLE booking_events (
    event_id      uuid        PRIMARY KEY,
    status        text        NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
    sale_start_at timestamptz,
    sale_end_at   timestamptz,
    max_per_user  integer     NOT NULL CHECK (max_per_user BETWEEN 1 AND 10),
    queue_enabled boolean     NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A zone as the catalog sent it (show, price, total: frozen once the event
-- is on sale), with its counters: available + held + sold = total, each
-- moved only forward by inventory_version.
CREATE TABLE booking_zones (
    zone_id           uuid          PRIMARY KEY,
    event_id          uuid          NOT NULL REFERENCES booking_events (event_id),
    show_id           uuid          NOT NULL,
    price             numeric(10,2) NOT NULL CHECK (price > 0),
    total_seats       integer       NOT NULL CHECK (total_seats > 0),
    available_seats   integer       NOT NULL CHECK (available_seats >= 0),
    held_seats        integer       NOT NULL DEFAULT 0 CHECK (held_seats >= 0),
    sold_seats        integer       NOT NULL DEFAULT 0 CHECK (sold_seats >= 0),
    inventory_version bigint        NOT NULL DEFAULT 0 CHECK (inventory_version >= 0),
    CONSTRAINT booking_zones_inventory_check CHECK (available_seats + held_seats + sold_seats = total_seats)
);
CREATE INDEX booking_zones_event_idx ON booking_zones (event_id);
CREATE INDEX booking_zones_show_idx ON booking_zones (show_id);

-- Events already loaded keep selling after the upgrade: their snapshot and
-- counters are copied once from the catalog's tables (the last time booking
-- reads them).
INSERT INTO booking_events (event_id, status, sale_start_at, sale_end_at, max_per_user, queue_enabled)
SELECT id, status, sale_start_at, sale_end_at, max_per_user, queue_enabled
  FROM events WHERE status <> 'draft' AND deleted_at IS NULL;
INSERT INTO booking_zones (zone_id, event_id, show_id, price, total_seats, available_seats, held_seats, sold_seats, inventory_version)
SELECT z.id, sh.event_id, z.show_id, z.price, z.total_seats, z.available_seats, z.held_seats, z.sold_seats, z.inventory_version
  FROM seat_zones z JOIN shows sh ON sh.id = z.show_id JOIN booking_events be ON be.event_id = sh.event_id;
