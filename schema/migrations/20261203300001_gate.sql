-- The gate service's tables (services/gate): e-tickets, their signing keys,
-- check-in devices and scans. No other service reads or writes them.

-- Each event's Ed25519 keys. The newest unretired one signs; a retired key
-- whose published flag is false no longer verifies anything.
CREATE TABLE gate_signing_keys (
    event_id    uuid        NOT NULL,
    key_id      integer     NOT NULL CHECK (key_id BETWEEN 1 AND 65535),
    public_key  bytea       NOT NULL CHECK (length(public_key) = 32),
    private_key bytea       NOT NULL CHECK (length(private_key) = 32), -- the Ed25519 seed
    published   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, key_id)
);

-- One ticket per seat of a confirmed booking (id: UUIDv5 of booking and seat,
-- so a redelivered booking event issues nothing twice).
CREATE TABLE gate_tickets (
    id              uuid        PRIMARY KEY,
    booking_id      uuid        NOT NULL,
    seat            integer     NOT NULL CHECK (seat >= 1),
    user_id         uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    show_id         uuid        NOT NULL,
    zone_id         uuid        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('valid', 'revoked')),
    valid_until     timestamptz NOT NULL,
    booking_version bigint      NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CONSTRAINT gate_tickets_booking_seat_key UNIQUE (booking_id, seat)
);
CREATE INDEX gate_tickets_show_idx ON gate_tickets (show_id, status);

-- Check-in devices an organizer registered; their credential is a signed
-- token (authn.IssueDevice), refused once revoked_at is set.
CREATE TABLE gate_devices (
    id           uuid        PRIMARY KEY,
    organizer_id uuid        NOT NULL,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    event_ids    uuid[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);

-- The scan that checked a ticket in: the earliest one (offline scans that
-- arrive later but happened earlier take its place).
CREATE TABLE gate_checkins (
    ticket_id  uuid        PRIMARY KEY REFERENCES gate_tickets (id),
    scan_id    uuid        NOT NULL,
    show_id    uuid        NOT NULL,
    scanned_at timestamptz NOT NULL,
    gate       text        NOT NULL,
    device_id  uuid        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gate_checkins_show_idx ON gate_checkins (show_id);

-- Every scan with its verdict (the audit trail of the gates).
CREATE TABLE gate_scans (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   uuid,
    device_id   uuid        NOT NULL,
    gate        text        NOT NULL,
    scanned_at  timestamptz NOT NULL,
    outcome     text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
