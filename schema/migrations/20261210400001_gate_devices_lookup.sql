-- An admin lists every check-in device, filtered by the user who registered
-- it and by event; an organizer lists their own.
CREATE INDEX gate_devices_organizer_idx ON gate_devices (organizer_id, created_at DESC);
CREATE INDEX gate_devices_events_idx ON gate_devices USING gin (event_ids);
