-- No foreign key crosses owners (docs/ownership.md). These five were left
-- when bookings lost theirs (20261204000001_bookings_own): an event needed
-- its organizer's account and tenant to exist and to stay, a payment its
-- buyer's account, a saga its payment's row, and a notification was deleted
-- with its user's account behind notify's back. So no account with a payment
-- or an event could ever be deleted, and a service could not move to a
-- database of its own. Each id comes from a verified token or from its
-- owner's RPC or event, as the bookings' do.
ALTER TABLE events DROP CONSTRAINT events_organizer_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_user_id_fkey;
ALTER TABLE sagas DROP CONSTRAINT sagas_payment_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_user_id_fkey;
