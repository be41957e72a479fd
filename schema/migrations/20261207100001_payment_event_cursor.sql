-- How far the payment reconciler has listed the provider's events (its
-- missedEvents step): events created before listed_until were each applied
-- once, by webhook or by the listing.
CREATE TABLE payment_event_cursor (
    provider     text PRIMARY KEY,
    listed_until timestamptz NOT NULL
);
