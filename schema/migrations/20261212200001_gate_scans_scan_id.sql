-- Every scan recorded from now on has an id: a synced scan's is named by its
-- device, its code, its own scan time and its place among identical copies
-- of the batch (services/gate syncScanKey), an online scan's is random. A
-- batch a device sends again (its answer was lost) is answered as the first
-- time and records nothing twice: the show's counts do not move. Scans
-- recorded before have none (NULLs are distinct).
ALTER TABLE gate_scans ADD COLUMN scan_id uuid;
CREATE UNIQUE INDEX gate_scans_scan_id_key ON gate_scans (scan_id);
