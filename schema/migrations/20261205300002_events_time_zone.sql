-- An event's venue time zone, an IANA name of the tz database: show dates
-- are written in it on public pages and in e-mails (services/platform/
-- showtime). The catalog checks the name; events made before it are UTC,
-- as their dates were written until now.
ALTER TABLE events ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (time_zone <> '' AND length(time_zone) <= 64);
