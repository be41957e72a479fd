package edge_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

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
