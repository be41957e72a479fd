-- An event is found by its slug or by its id, so a slug shaped like an id
-- could stand for another event: an organizer who named a draft after a
-- live event's id took that event's URL, and every lookup by its id
-- (updates, cancellation, the gate, analytics). Lookups by a UUID now read
-- the id only, the catalog refuses such slugs, and any that exist get a
-- suffix, so the event keeps a URL of its own.
UPDATE events SET slug = slug || '-' || substr(md5(id::text), 1, 6)
WHERE slug ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
ALTER TABLE events ADD CONSTRAINT events_slug_not_an_id
    CHECK (slug !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$');
