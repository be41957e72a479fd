-- What an offline door did with a synced scan's holder, as the device says
-- (gate.v1.Scan.door): 'admitted', 'refused', or NULL (an online scan, whose
-- door follows the gate's answer, or a device that did not say). A scan its
-- door refused checks nothing in and counts in neither reused nor
-- revoked_offline: its holder stayed out.
ALTER TABLE gate_scans ADD COLUMN door text CHECK (door IN ('admitted', 'refused'));
