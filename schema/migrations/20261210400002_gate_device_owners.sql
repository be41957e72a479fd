-- A check-in device works only while the user who registered it may run its
-- events (their organizer, or an admin). The auth service tells the gate of
-- every role change and account deletion (GateService.SetDeviceOwnerRole, in
-- the transaction of the change), and the gate revokes the devices the new
-- role may not run. It keeps the role told here: a registration made with an
-- access token issued before the change (which still carries the old role
-- for up to jwt.revocation-poll) is refused too. A user never told here acts
-- with the role of their token.
CREATE TABLE gate_device_owners (
    user_id    uuid        PRIMARY KEY,
    role       text        NOT NULL CHECK (role IN ('user', 'organizer', 'admin')),
    changed_at timestamptz NOT NULL DEFAULT now()
);
