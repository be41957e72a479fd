-- Core tables: tenants, identity, catalog, bookings, payments.
-- Object names are never schema-qualified: the migration applies to the first
-- schema of the connection's search_path (tests use a fresh schema each).

-- set_updated_at keeps updated_at honest on every UPDATE.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE tenants (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,99}$'),
    settings   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tenants_updated_at BEFORE UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The default tenant: every row without an explicit tenant belongs to it.
INSERT INTO tenants (id, name, slug)
VALUES ('00000000-0000-0000-0000-000000000001', 'Default', 'default');

CREATE TABLE users (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants (id),
    email          text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email LIKE '_%@_%'),
    password_hash  text        NOT NULL CHECK (password_hash <> ''),
    full_name      text        NOT NULL DEFAULT '' CHECK (length(full_name) <= 255),
    role           text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'organizer', 'admin')),
    email_verified boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- E-mail is unique per tenant, case-insensitively; look users up by lower(email).
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Refresh tokens rotate: each use revokes the token and points replaced_by at
-- its successor; presenting a revoked token kills the whole family.
CREATE TABLE refresh_tokens (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid        NOT NULL,
    token_hash  text        NOT NULL UNIQUE CHECK (token_hash <> ''),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by uuid        REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at > created_at),
    CHECK (replaced_by IS NULL OR (replaced_by <> id AND revoked_at IS NOT NULL))
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE password_reset_tokens (
    token_hash text        PRIMARY KEY CHECK (token_hash <> ''),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at > created_at)
);
CREATE INDEX password_reset_tokens_user_idx ON password_reset_tokens (user_id);

CREATE TABLE categories (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,99}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO categories (name, slug) VALUES
    ('Concert', 'concert'),
    ('Sports', 'sports'),
    ('Theatre', 'theatre'),
    ('Comedy', 'comedy'),
    ('Conference', 'conference'),
    ('Festival', 'festival'),
    ('Other', 'other');

CREATE TABLE events (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants (id),
    organizer_id           uuid        NOT NULL REFERENCES users (id),
    category_id            uuid        REFERENCES categories (id) ON DELETE SET NULL,
    title                  text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 255),
    slug                   text        NOT NULL UNIQUE CHECK (slug ~ '^[^\s/?#]{1,255}$'),
    description            text        NOT NULL DEFAULT '',
    venue                  text        NOT NULL DEFAULT '' CHECK (length(venue) <= 255),
    image_url              text        CHECK (length(image_url) <= 2048),
    status                 text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'cancelled')),
    sale_start_at          timestamptz,
    sale_end_at            timestamptz,
    max_per_user           integer     NOT NULL DEFAULT 4 CHECK (max_per_user BETWEEN 1 AND 10),
    queue_enabled          boolean     NOT NULL DEFAULT false,
    queue_admit_per_second integer     NOT NULL DEFAULT 100 CHECK (queue_admit_per_second > 0),
    deleted_at             timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_sale_window_check CHECK (sale_end_at > sale_start_at),
    -- A published event has a complete sale window (reserve checks it).
    CONSTRAINT events_published_window_check CHECK (
        status <> 'published' OR (sale_start_at IS NOT NULL AND sale_end_at IS NOT NULL))
);
CREATE INDEX events_listing_idx ON events (status, sale_start_at) WHERE deleted_at IS NULL;
CREATE INDEX events_organizer_idx ON events (organizer_id);
CREATE INDEX events_category_idx ON events (category_id);
CREATE INDEX events_tenant_idx ON events (tenant_id);
CREATE TRIGGER events_updated_at BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A show's seat counters are the sums of its zones' counters, maintained by
-- the seat_zones_roll_up trigger below: never write them by hand.
CREATE TABLE shows (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id        uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    show_date       timestamptz NOT NULL,
    total_seats     integer     NOT NULL DEFAULT 0 CHECK (total_seats >= 0),
    available_seats integer     NOT NULL DEFAULT 0,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'completed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shows_available_seats_check CHECK (available_seats >= 0 AND available_seats <= total_seats)
);
CREATE INDEX shows_event_idx ON shows (event_id, show_date);
CREATE INDEX shows_date_idx ON shows (show_date);
CREATE TRIGGER shows_updated_at BEFORE UPDATE ON shows
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE seat_zones (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    show_id         uuid          NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    name            text          NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    price           numeric(10,2) NOT NULL CHECK (price > 0),
    total_seats     integer       NOT NULL CHECK (total_seats > 0),
    available_seats integer       NOT NULL,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT seat_zones_available_seats_check CHECK (available_seats BETWEEN 0 AND total_seats),
    CONSTRAINT seat_zones_show_name_key UNIQUE (show_id, name)
);
CREATE TRIGGER seat_zones_updated_at BEFORE UPDATE ON seat_zones
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- seat_zones_roll_up adds each zone change to its show's counters.
CREATE FUNCTION seat_zones_roll_up() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.show_id = NEW.show_id THEN
        IF NEW.total_seats <> OLD.total_seats OR NEW.available_seats <> OLD.available_seats THEN
            UPDATE shows
               SET total_seats = total_seats + (NEW.total_seats - OLD.total_seats),
                   available_seats = available_seats + (NEW.available_seats - OLD.available_seats)
             WHERE id = NEW.show_id;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE shows
           SET total_seats = total_seats - OLD.total_seats,
               available_seats = available_seats - OLD.available_seats
         WHERE id = OLD.show_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE shows
           SET total_seats = total_seats + NEW.total_seats,
               available_seats = available_seats + NEW.available_seats
         WHERE id = NEW.show_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER seat_zones_roll_up AFTER INSERT OR DELETE OR UPDATE OF show_id, total_seats, available_seats
    ON seat_zones FOR EACH ROW EXECUTE FUNCTION seat_zones_roll_up();

-- Bookings are written by the persister from booking.events (Redis decides,
-- Postgres records); version is the hold's state version, so a consumer
-- applies an event only when it is newer than the row.
CREATE TABLE bookings (
    id             uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    reservation_id text          NOT NULL CHECK (length(reservation_id) BETWEEN 1 AND 100),
    user_id        uuid          NOT NULL REFERENCES users (id),
    event_id       uuid          NOT NULL REFERENCES events (id),
    show_id        uuid          NOT NULL REFERENCES shows (id),
    zone_id        uuid          NOT NULL REFERENCES seat_zones (id),
    quantity       integer       NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    unit_price     numeric(10,2) NOT NULL CHECK (unit_price > 0),
    total_amount   numeric(10,2) NOT NULL CHECK (total_amount > 0),
    status         text          NOT NULL DEFAULT 'reserved'
                                 CHECK (status IN ('reserved', 'confirmed', 'cancelled', 'expired', 'refunded')),
    version        bigint        NOT NULL DEFAULT 1 CHECK (version > 0),
    expires_at     timestamptz,
    confirmed_at   timestamptz,
    cancelled_at   timestamptz,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    -- The server computes the amount: zone price times quantity.
    CONSTRAINT bookings_amount_check CHECK (total_amount = unit_price * quantity),
    CONSTRAINT bookings_reserved_expiry_check CHECK (status <> 'reserved' OR expires_at IS NOT NULL),
    CONSTRAINT bookings_confirmed_at_check CHECK (status <> 'confirmed' OR confirmed_at IS NOT NULL),
    CONSTRAINT bookings_cancelled_at_check CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL),
    -- The Idempotency-Key of a reserve call, unique per user.
    CONSTRAINT bookings_user_reservation_key UNIQUE (user_id, reservation_id)
);
CREATE INDEX bookings_user_created_idx ON bookings (user_id, created_at DESC);
CREATE INDEX bookings_expires_idx ON bookings (expires_at) WHERE status = 'reserved';
CREATE INDEX bookings_event_status_idx ON bookings (event_id, status);
CREATE INDEX bookings_show_idx ON bookings (show_id);
CREATE INDEX bookings_zone_idx ON bookings (zone_id);
CREATE TRIGGER bookings_updated_at BEFORE UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- payments.booking_id has no foreign key on purpose: the booking row arrives
-- asynchronously (Redis -> stream -> Kafka -> persister) and a buyer may pay
-- before it lands.
CREATE TABLE payments (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id          uuid          NOT NULL,
    user_id             uuid          NOT NULL REFERENCES users (id),
    amount              numeric(10,2) NOT NULL CHECK (amount > 0),
    refunded_amount     numeric(10,2) NOT NULL DEFAULT 0,
    currency            text          NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    status              text          NOT NULL DEFAULT 'pending'
                                      CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
    provider            text          NOT NULL DEFAULT 'simulator' CHECK (provider <> ''),
    payment_method      text,
    provider_payment_id text          UNIQUE,
    failed_reason       text,
    succeeded_at        timestamptz,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT payments_refunded_amount_check CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    CONSTRAINT payments_refund_status_check CHECK (
        (status = 'refunded' AND refunded_amount = amount)
        OR (status = 'partially_refunded' AND refunded_amount > 0 AND refunded_amount < amount)
        OR (status NOT IN ('refunded', 'partially_refunded') AND refunded_amount = 0))
);
CREATE INDEX payments_booking_idx ON payments (booking_id);
CREATE INDEX payments_user_created_idx ON payments (user_id, created_at DESC);
CREATE INDEX payments_status_idx ON payments (status) WHERE status IN ('pending', 'processing');
CREATE TRIGGER payments_updated_at BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Webhook idempotency: a provider event is recorded once; a redelivery
-- conflicts on the primary key and is acknowledged without work.
CREATE TABLE payment_webhook_events (
    provider          text        NOT NULL CHECK (provider <> ''),
    provider_event_id text        NOT NULL CHECK (provider_event_id <> ''),
    event_type        text        NOT NULL,
    payment_id        uuid        REFERENCES payments (id) ON DELETE SET NULL,
    payload           jsonb       NOT NULL DEFAULT '{}',
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz,
    PRIMARY KEY (provider, provider_event_id)
);
CREATE INDEX payment_webhook_events_payment_idx ON payment_webhook_events (payment_id);
