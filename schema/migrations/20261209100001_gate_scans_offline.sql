-- A scan synced from an offline door says so, and a ticket's scans are found
-- by ticket: a show's check-in counts tell the organizer what offline doors
-- did that an online door would have refused (a ticket let in twice, a
-- revoked ticket scanned). Scans recorded before are counted as online.
ALTER TABLE gate_scans ADD COLUMN offline boolean NOT NULL DEFAULT false;
CREATE INDEX gate_scans_ticket_idx ON gate_scans (ticket_id) WHERE ticket_id IS NOT NULL;
