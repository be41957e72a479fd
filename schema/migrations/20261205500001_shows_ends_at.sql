-- When a show ends, when the organizer says: calendar files end the show
-- there, and its tickets open the door until a day after it. Shows made
-- before it have none (their tickets count from the start, as until now).
ALTER TABLE shows ADD COLUMN ends_at timestamptz
    CHECK (ends_at > show_date AND ends_at <= show_date + interval '30 days');
