package edge_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bookingrush/rush/services/platform/pgtest"
)

// TestADeviceWorksWhileItsOwnerRunsItsEvents: through the edge of a whole
// mesh, a check-in device works only while the user who registered it may
// run its events (their organizer, or an admin). An organizer made a user
// has every device refused at once (scans, syncs, the revocation list), and
// cannot register another with the token that still says organizer (the
// revocation feed is slowed to a minute here, so the token does say it); an
// admin registering for an event made an organizer keeps the devices of
// their own events and loses the others'; a device stays revoked when the
// role comes back; a deleted account's devices are refused, also one left
// working from before the gate was told of role changes. Before, none of
// it: a demoted organizer's devices kept admitting people and syncing scans.
func TestADeviceWorksWhileItsOwnerRunsItsEvents(t *testing.T) {
	t.Parallel()
	m, _, a := startWhole(t, "-payment.sim-delay=50ms", "-jwt.revocation-poll=1m", "-jwt.revocation-max-stale=2m")
	root := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	users := a.people([]string{"org", "boss", "other", "ann"}, "org", "boss", "other")
	id := func(token string) string { return a.call("GET", "/api/v1/auth/me", token, nil).str("id") }
	setRole := func(token, role string) {
		t.Helper()
		a.want(a.call("PUT", "/api/v1/admin/users/"+id(token)+"/role", root, map[string]any{"role": role}), 200, "")
	}
	login := func(name string) string {
		return a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": name + "@rush.test", "password": "secret-pass-1"}).str("access_token")
	}
	device := func(token, name string, events ...string) string {
		t.Helper()
		r := a.call("POST", "/api/v1/checkin/devices", token, map[string]any{"name": name, "event_ids": events})
		a.want(r, 201, "")
		return r.str("credential")
	}
	orgID, bossID := id(users["org"]), id(users["boss"])
	eventID, showID, zoneID := a.onSale(users["org"], "Owner Night", 10)
	otherEvent, _, _ := a.onSale(users["other"], "Other Night", 10)
	_, tickets := a.buy(users["ann"], showID, zoneID, 2)

	north := device(users["org"], "North", eventID)
	// boss is made an admin, registers one device for org's event and one
	// for an event of boss's own.
	setRole(users["boss"], "admin")
	boss := login("boss")
	bossEvent, _, _ := a.onSale(boss, "Boss Night", 10)
	bossForOrg, bossOwn := device(boss, "Boss at org's", eventID), device(boss, "Boss at own", bossEvent)
	works := func(cred, what string) {
		t.Helper()
		if r := a.call("POST", "/api/v1/checkin/sync", cred, map[string]any{"scans": []any{map[string]any{"code": "BRT1:NOTATICKET"}}}); r.status != 200 {
			t.Errorf("%s: sync %s, want 200", what, r)
		}
	}
	refused := func(cred, what string) {
		t.Helper()
		if r := a.call("POST", "/api/v1/checkin", cred, map[string]any{"code": tickets[1], "show_id": showID}); r.status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("%s: a scan %s, want 401 UNAUTHORIZED", what, r)
		}
		if r := a.call("POST", "/api/v1/checkin/sync", cred, map[string]any{"scans": []any{map[string]any{"code": tickets[1], "show_id": showID}}}); r.status != 401 {
			t.Errorf("%s: a sync %s, want 401", what, r)
		}
		if r := a.call("GET", "/api/v1/shows/"+showID+"/revoked-tickets", cred, nil); r.status != 401 {
			t.Errorf("%s: the revocation list %s, want 401", what, r)
		}
	}
	if r := a.call("POST", "/api/v1/checkin", north, map[string]any{"code": tickets[0], "show_id": showID}); r.str("outcome") != "valid" {
		t.Fatalf("org's device admits ann before: %s", r)
	}

	// 1. org is made a user: org's device is refused at once; boss's for
	// org's event works (boss is still an admin).
	setRole(users["org"], "user")
	refused(north, "org's device after org was made a user")
	works(bossForOrg, "boss's device for org's event after org was made a user")
	// org's token still says organizer (the feed reaches it within a
	// minute here): the gate refuses the registration all the same.
	if r := a.call("POST", "/api/v1/checkin/devices", users["org"], map[string]any{"name": "Again", "event_ids": []string{eventID}}); r.status != 403 || r.code() != "FORBIDDEN" {
		t.Errorf("org registers a device with the token from before the change: %s, want 403", r)
	}

	// 2. boss is made an organizer: the device of org's event is refused,
	// the one of boss's own event works; boss's admin token of before
	// registers nothing for another's event.
	setRole(boss, "organizer")
	refused(bossForOrg, "boss's device for org's event after boss was made an organizer")
	works(bossOwn, "boss's device for boss's own event")
	if r := a.call("POST", "/api/v1/checkin/devices", boss, map[string]any{"name": "Sneak", "event_ids": []string{otherEvent}}); r.status != 403 {
		t.Errorf("boss registers a device for other's event with the admin token of before: %s, want 403", r)
	}
	device(boss, "Boss again", bossEvent)

	// 3. org is an organizer again: the old device stays revoked, a new one
	// works.
	setRole(users["org"], "organizer")
	refused(north, "org's device after org was made an organizer again")
	works(device(login("org"), "North again", eventID), "org's new device")

	// 4. A deleted account's devices are refused, one that was left working
	// by a role taken away before the gate was told of role changes too
	// (simulated: the gate forgets it revoked it).
	setRole(users["org"], "user")
	db := pgtest.Open(t, m.DSN)
	if _, err := db.Exec(`UPDATE gate_devices SET revoked_at = NULL WHERE organizer_id = $1`, orgID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM gate_device_owners WHERE user_id = $1`, orgID); err != nil {
		t.Fatal(err)
	}
	works(north, "org's device the gate forgot it revoked")
	a.want(a.call("DELETE", "/api/v1/admin/users/"+orgID, root, nil), 200, "")
	refused(north, "the device of a deleted account")

	// What the admin's list says of it all.
	l := a.call("GET", "/api/v1/checkin/devices?owner_id="+bossID, root, nil)
	a.want(l, 200, "")
	var names []string
	for _, d := range l.list() {
		d := d.(map[string]any)
		name := d["name"].(string)
		if d["revoked_at"] != nil {
			name += " revoked"
		}
		names = append(names, name)
	}
	if want := []string{"Boss again", "Boss at own", "Boss at org's revoked"}; !slices.Equal(names, want) {
		t.Errorf("boss's devices: %q, want %q", names, want)
	}
}

// TestAnAdminFindsAndRevokesAnyDevice: through the edge of a whole mesh, an
// admin lists every device, filtered by event and owner and paged as the
// API's other listings, and revokes another organizer's; an organizer still
// lists only the devices they registered, and a filter naming another's
// event or owner shows them none. Before, an admin listed only the devices
// it registered itself (none), so it could not find one to revoke.
func TestAnAdminFindsAndRevokesAnyDevice(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	root := a.call("POST", "/api/v1/auth/login", "", map[string]any{"email": "root@rush.test", "password": "root-password-1"}).str("access_token")
	users := a.people([]string{"org", "other"}, "org", "other")
	orgID := a.call("GET", "/api/v1/auth/me", users["org"], nil).str("id")
	otherID := a.call("GET", "/api/v1/auth/me", users["other"], nil).str("id")
	orgEvent, _, _ := a.onSale(users["org"], "Org Night", 10)
	orgEvent2, _, _ := a.onSale(users["org"], "Org Day", 10)
	otherEvent, _, _ := a.onSale(users["other"], "Other Night", 10)
	ids := map[string]string{}
	creds := map[string]string{}
	for _, d := range []struct {
		token, name string
		events      []string
	}{
		{users["org"], "org 1", []string{orgEvent}},
		{users["org"], "org 2", []string{orgEvent, orgEvent2}},
		{users["other"], "other 1", []string{otherEvent}},
		{root, "root 1", []string{otherEvent, orgEvent}},
	} {
		r := a.call("POST", "/api/v1/checkin/devices", d.token, map[string]any{"name": d.name, "event_ids": d.events})
		a.want(r, 201, "")
		ids[d.name], creds[d.name] = r.str("device", "id"), r.str("credential")
	}
	list := func(token, query string) (names []string, total any) {
		t.Helper()
		r := a.call("GET", "/api/v1/checkin/devices?"+query, token, nil)
		a.want(r, 200, "")
		for _, d := range r.list() {
			d := d.(map[string]any)
			if ids[d["name"].(string)] != d["id"] {
				t.Errorf("device %v: not the one registered", d)
			}
			names = append(names, d["name"].(string))
		}
		meta, _ := r.body["meta"].(map[string]any)
		return names, meta["total"]
	}
	for _, c := range []struct {
		who, token, query string
		want              []string
	}{
		{"admin", root, "", []string{"root 1", "other 1", "org 2", "org 1"}},
		{"admin, org's first event", root, "event_id=" + orgEvent, []string{"root 1", "org 2", "org 1"}},
		{"admin, org's first event in capitals", root, "event_id=" + strings.ToUpper(orgEvent), []string{"root 1", "org 2", "org 1"}},
		{"admin, other's", root, "owner_id=" + otherID, []string{"other 1"}},
		{"admin, other's of org's event", root, "owner_id=" + otherID + "&event_id=" + orgEvent, nil},
		{"admin, org's of org's second event", root, "owner_id=" + strings.ToUpper(orgID) + "&event_id=" + orgEvent2, []string{"org 2"}},
		{"org", users["org"], "", []string{"org 2", "org 1"}},
		{"org, own id", users["org"], "owner_id=" + orgID, []string{"org 2", "org 1"}},
		{"org, other's", users["org"], "owner_id=" + otherID, nil},
		{"org, other's event", users["org"], "event_id=" + otherEvent, nil},
		{"other", users["other"], "", []string{"other 1"}},
	} {
		if got, _ := list(c.token, c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s lists %q, want %q", c.who, got, c.want)
		}
	}
	// Paged as the other listings: page 2 of 3 per page is the last device,
	// and the total counts them all.
	if got, total := list(root, url.Values{"page": {"2"}, "per_page": {"3"}}.Encode()); !slices.Equal(got, []string{"org 1"}) || total != float64(4) {
		t.Errorf("admin's page 2: %q of %v", got, total)
	}
	for what, q := range map[string]string{"event_id": "event_id=nope", "owner_id": "owner_id=nope"} {
		if r := a.call("GET", "/api/v1/checkin/devices?"+q, root, nil); r.status != 400 || r.code() != "VALIDATION_ERROR" {
			t.Errorf("a filter %s not a UUID: %s, want 400", what, r)
		}
	}

	// The admin revokes other's device; org cannot (it does not exist for
	// org); the device is refused.
	a.want(a.call("DELETE", "/api/v1/checkin/devices/"+ids["other 1"], users["org"], nil), 404, "NOT_FOUND")
	a.want(a.call("DELETE", "/api/v1/checkin/devices/"+strings.ToUpper(ids["other 1"]), root, nil), 200, "")
	a.want(a.call("POST", "/api/v1/checkin", creds["other 1"], map[string]any{"code": "BRT1:X"}), 401, "UNAUTHORIZED")
	if r := a.call("GET", "/api/v1/checkin/devices?owner_id="+otherID, users["other"], nil); len(r.list()) != 1 || r.list()[0].(map[string]any)["revoked_at"] == nil ||
		r.list()[0].(map[string]any)["owner_id"] != otherID {
		t.Errorf("other's list after the admin revoked its device: %s", r)
	}
}
