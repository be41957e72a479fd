-- A device's scans found by device: the devices list says when the gate last
-- heard from each door and how many scans it recorded (a door silent for long
-- may be offline).
CREATE INDEX gate_scans_device_idx ON gate_scans (device_id, recorded_at);
