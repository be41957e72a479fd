-- Audit log (range-partitioned by month) and analytics aggregates.

-- audit_logs keeps no foreign keys: the trail must outlive what it describes.
CREATE TABLE audit_logs (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid,
    user_id     uuid,
    action      text        NOT NULL CHECK (action <> ''),
    entity_type text,
    entity_id   uuid,
    old_values  jsonb,
    new_values  jsonb,
    ip_address  inet,
    user_agent  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX audit_logs_entity_idx ON audit_logs (entity_type, entity_id, created_at);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, created_at);
CREATE INDEX audit_logs_tenant_idx ON audit_logs (tenant_id, created_at);

-- Rows outside every monthly partition land here instead of failing.
CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT;

-- ensure_audit_log_partitions creates the monthly partitions audit_logs_YYYY_MM
-- (UTC months) from the current month through months_ahead months ahead, in the
-- schema of audit_logs, and returns how many it created. Idempotent and safe to
-- run concurrently (transaction advisory lock). Rows already sitting in the
-- default partition for a new month are moved into it.
CREATE FUNCTION ensure_audit_log_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parent  regclass := 'audit_logs'::regclass;
    nsp     text;
    first   timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    m       timestamp;
    lo      text;
    hi      text;
    part    text;
    created integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'ensure_audit_log_partitions: months_ahead must be between 0 and 120, got %', months_ahead;
    END IF;
    SELECT n.nspname INTO nsp
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    PERFORM pg_advisory_xact_lock(hashtext('ensure_audit_log_partitions:' || nsp));
    FOR i IN 0..months_ahead LOOP
        m    := first + make_interval(months => i);
        part := 'audit_logs_' || to_char(m, 'YYYY_MM');
        IF to_regclass(format('%I.%I', nsp, part)) IS NOT NULL THEN
            CONTINUE;
        END IF;
        lo := to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00';
        hi := to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';
        EXECUTE format('CREATE TABLE %I.%I (LIKE %I.audit_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       nsp, part, nsp);
        EXECUTE format('WITH moved AS (DELETE FROM %I.audit_logs_default WHERE created_at >= %L AND created_at < %L RETURNING *) '
                       'INSERT INTO %I.%I SELECT * FROM moved', nsp, lo, hi, nsp, part);
        EXECUTE format('ALTER TABLE %I.audit_logs ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                       nsp, nsp, part, lo, hi);
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$$;

SELECT ensure_audit_log_partitions(3);

-- Daily and hourly sales aggregates per event, maintained by the analytics
-- consumer (idempotent through processed_events).
CREATE TABLE analytics_event_daily (
    event_id           uuid          NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    day                date          NOT NULL,
    reservations       bigint        NOT NULL DEFAULT 0 CHECK (reservations >= 0),
    seats_reserved     bigint        NOT NULL DEFAULT 0 CHECK (seats_reserved >= 0),
    confirmed_bookings bigint        NOT NULL DEFAULT 0 CHECK (confirmed_bookings >= 0),
    seats_sold         bigint        NOT NULL DEFAULT 0 CHECK (seats_sold >= 0),
    cancellations      bigint        NOT NULL DEFAULT 0 CHECK (cancellations >= 0),
    expirations        bigint        NOT NULL DEFAULT 0 CHECK (expirations >= 0),
    revenue            numeric(12,2) NOT NULL DEFAULT 0 CHECK (revenue >= 0),
    refunds            numeric(12,2) NOT NULL DEFAULT 0 CHECK (refunds >= 0),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, day)
);
CREATE TRIGGER analytics_event_daily_updated_at BEFORE UPDATE ON analytics_event_daily
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE analytics_event_hourly (
    event_id           uuid          NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    hour               timestamptz   NOT NULL CHECK (date_part('epoch', hour)::numeric % 3600 = 0),
    reservations       bigint        NOT NULL DEFAULT 0 CHECK (reservations >= 0),
    seats_reserved     bigint        NOT NULL DEFAULT 0 CHECK (seats_reserved >= 0),
    confirmed_bookings bigint        NOT NULL DEFAULT 0 CHECK (confirmed_bookings >= 0),
    seats_sold         bigint        NOT NULL DEFAULT 0 CHECK (seats_sold >= 0),
    cancellations      bigint        NOT NULL DEFAULT 0 CHECK (cancellations >= 0),
    expirations        bigint        NOT NULL DEFAULT 0 CHECK (expirations >= 0),
    revenue            numeric(12,2) NOT NULL DEFAULT 0 CHECK (revenue >= 0),
    refunds            numeric(12,2) NOT NULL DEFAULT 0 CHECK (refunds >= 0),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, hour)
);
CREATE TRIGGER analytics_event_hourly_updated_at BEFORE UPDATE ON analytics_event_hourly
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
