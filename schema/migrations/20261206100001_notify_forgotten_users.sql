-- The accounts notify was told to forget (a deleted account). A mail asked
-- for one later (a Kafka message already in flight, a saga's confirmation)
-- is not stored: the erasure and such a send serialize on the user (an
-- advisory lock), so nothing of a deleted person is kept after it. Only the
-- account's id is kept, which names nobody once the account is gone.
CREATE TABLE notify_forgotten_users (
    user_id      uuid        PRIMARY KEY,
    forgotten_at timestamptz NOT NULL DEFAULT now()
);
