-- The organizer's third waiting-room switch: queue_auto lets the system turn
-- the event's queue on by itself when the edge sheds its reserves for a
-- sustained while (edge.admission.auto-queue-after).
ALTER TABLE events ADD COLUMN queue_auto boolean NOT NULL DEFAULT false;
