-- The waiting room's second knob (issue 14): besides the admission rate
-- (queue_admit_per_second), a cap on active shoppers, the admitted buyers
-- whose queue pass is live and not used yet. 0 means no cap. The organizer
-- sets both through PUT /api/v1/events/{id}/queue.
ALTER TABLE events
    ADD COLUMN queue_max_active integer NOT NULL DEFAULT 0
        CHECK (queue_max_active BETWEEN 0 AND 1000000);
