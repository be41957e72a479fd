-- The waiting room's knobs move to a table the queue service owns (issue 17:
-- one owner per table): the admission rate, the cap on active shoppers and
-- the automatic switch. The switch itself (events.queue_enabled) stays with
-- the event's other sale settings in the catalog, which the queue asks to
-- change it. An event without a row has the defaults.
CREATE TABLE queue_settings (
    event_id         uuid        PRIMARY KEY,
    admit_per_second integer     NOT NULL DEFAULT 100 CHECK (admit_per_second > 0),
    max_active       integer     NOT NULL DEFAULT 0 CHECK (max_active BETWEEN 0 AND 1000000),
    auto             boolean     NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

INSERT INTO queue_settings (event_id, admit_per_second, max_active, auto)
SELECT id, queue_admit_per_second, queue_max_active, queue_auto
  FROM events WHERE queue_admit_per_second <> 100 OR queue_max_active <> 0 OR queue_auto;

ALTER TABLE events
    DROP COLUMN queue_admit_per_second,
    DROP COLUMN queue_max_active,
    DROP COLUMN queue_auto;
