-- Messaging and workflow tables: transactional outbox, consumer idempotency,
-- dead letters, the post-payment saga, notifications.

-- Transactional outbox: write the row and its outbox entry in one transaction;
-- the relay publishes unpublished entries in seq order and stamps published_at.
CREATE TABLE outbox (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq            bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    aggregate_type text        NOT NULL CHECK (aggregate_type <> ''),
    aggregate_id   uuid        NOT NULL,
    event_type     text        NOT NULL CHECK (event_type <> ''),
    topic          text        NOT NULL CHECK (topic <> ''),
    key            text,
    payload        jsonb       NOT NULL,
    headers        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
    attempts       integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_type, aggregate_id);

-- Idempotent consumers: INSERT ... ON CONFLICT DO NOTHING in the same
-- transaction as the work; no row inserted means the event was seen before.
CREATE TABLE processed_events (
    consumer     text        NOT NULL CHECK (consumer <> ''),
    event_id     text        NOT NULL CHECK (event_id <> ''),
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- Messages a consumer gave up on (also published to the dead letter topic).
CREATE TABLE dead_letters (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    source          text        NOT NULL CHECK (source <> ''),
    topic           text        NOT NULL CHECK (topic <> ''),
    kafka_partition integer,
    kafka_offset    bigint,
    key             text,
    payload         bytea       NOT NULL,
    headers         jsonb       NOT NULL DEFAULT '{}',
    error           text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_topic_created_idx ON dead_letters (topic, created_at);

-- One post-payment saga per payment. booking_id has no foreign key for the
-- same reason as payments.booking_id (the booking row may still be in flight).
CREATE TABLE sagas (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    type         text        NOT NULL DEFAULT 'post-payment' CHECK (type <> ''),
    payment_id   uuid        NOT NULL REFERENCES payments (id),
    booking_id   uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'running'
                             CHECK (status IN ('running', 'completed', 'compensating', 'compensated', 'failed')),
    current_step text,
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text,
    deadline_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CONSTRAINT sagas_payment_key UNIQUE (payment_id),
    CONSTRAINT sagas_finished_check CHECK (
        finished_at IS NULL OR status IN ('completed', 'compensated', 'failed'))
);
CREATE INDEX sagas_booking_idx ON sagas (booking_id);
-- The timeout sweeper scans live sagas by deadline.
CREATE INDEX sagas_live_deadline_idx ON sagas (deadline_at) WHERE status IN ('running', 'compensating');
CREATE TRIGGER sagas_updated_at BEFORE UPDATE ON sagas
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE saga_steps (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    saga_id     uuid        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (name <> ''),
    status      text        NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'compensated', 'skipped')),
    attempt     integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    started_at  timestamptz,
    finished_at timestamptz,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT saga_steps_saga_name_key UNIQUE (saga_id, name),
    CONSTRAINT saga_steps_times_check CHECK (finished_at >= started_at)
);
CREATE TRIGGER saga_steps_updated_at BEFORE UPDATE ON saga_steps
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Outgoing messages; idempotency_key makes a redelivered request a no-op.
CREATE TABLE notifications (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid        REFERENCES users (id) ON DELETE CASCADE,
    channel         text        NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms', 'push')),
    kind            text        NOT NULL CHECK (kind <> ''),
    recipient       text        NOT NULL CHECK (recipient <> ''),
    subject         text        NOT NULL DEFAULT '',
    body            text        NOT NULL DEFAULT '',
    data            jsonb       NOT NULL DEFAULT '{}',
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    idempotency_key text        NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_sent_at_check CHECK (status <> 'sent' OR sent_at IS NOT NULL)
);
CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at DESC);
CREATE INDEX notifications_pending_idx ON notifications (created_at) WHERE status = 'pending';
CREATE TRIGGER notifications_updated_at BEFORE UPDATE ON notifications
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
