-- The durable copy of the zones' waitlists (booking's own): the live line
-- is in Redis (lua/lib.lua), and a rebuild of an event's inventory after
-- Redis lost it restores each zone's line from the rows still waiting.
-- One row per buyer and zone, at the buyer's latest join (seq, the join's
-- sequence number in the event, the line's order in Redis). An entry that
-- ends (the buyer left, was offered seats, the line closed, the account was
-- deleted) keeps its row with ended_at set, as a tombstone: a join's row
-- and its end are written by different processes in no set order, and each
-- write moves a row only forward by seq (an end for seq s ends every join
-- up to s; a join for s is kept only over an older seq), so an end that
-- arrives before its join's row is never undone by it.
CREATE TABLE waitlist_entries (
    event_id  uuid        NOT NULL,
    zone_id   uuid        NOT NULL,
    user_id   uuid        NOT NULL,
    seq       bigint      NOT NULL CHECK (seq >= 0),
    -- 0 on a tombstone written before its join's row (the end knows no quantity).
    quantity  integer     NOT NULL CHECK (quantity >= 0),
    joined_at timestamptz,
    ended_at  timestamptz,
    PRIMARY KEY (event_id, zone_id, user_id),
    CONSTRAINT waitlist_entries_waiting_check CHECK (ended_at IS NOT NULL OR quantity > 0)
);
-- A deleted account leaves every line (ForgetUser).
CREATE INDEX waitlist_entries_waiting_user_idx ON waitlist_entries (user_id) WHERE ended_at IS NULL;
