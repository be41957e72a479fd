-- When each zone's show starts, as the catalog's snapshot says it
-- (LoadInventory's InventoryZone.show_date): the booking engine stops
-- selling a show's seats at its start even while the event's sale window
-- is open (an event with several dates sells the later ones). NULL for a
-- zone a catalog of an older release sent: no such limit.
ALTER TABLE booking_zones ADD COLUMN show_date timestamptz;

-- Zones kept before it get their show's start once from the catalog's
-- table (the one time booking reads it, as 20261203600001 did), so a
-- rebuild of their inventory carries it too.
UPDATE booking_zones z SET show_date = sh.show_date FROM shows sh WHERE sh.id = z.show_id;
