package edge_test

import (
	"testing"
	"time"
)

// TestARevokedDoorReadsNoTicketKeys: through the edge of a whole mesh, a
// check-in device reads the ticket keys of its events, a draft's included
// (the door is set up before the sale opens), until its organizer revokes
// it; from then on the keys answer 401, as every other gate route answers a
// revoked device, for the draft and for a published event alike. Before, the
// keys route took the device's events from its credential alone, so a
// revoked door still read the draft's keys (and learnt that the draft
// exists), and the web app's door sign-in, which asks for the keys of an
// event without a public show, took a revoked credential.
func TestARevokedDoorReadsNoTicketKeys(t *testing.T) {
	t.Parallel()
	_, _, a := startWhole(t)
	orla := a.people([]string{"orla"}, "orla")["orla"]
	eventID, _, _ := a.onSale(orla, "Orla Live", 3)
	draft := a.call("POST", "/api/v1/events", orla, map[string]any{"title": "Orla Secret", "venue": "Hall",
		"sale_start_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "sale_end_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	a.want(draft, 201, "")
	draftID := draft.str("id")
	for _, ev := range []string{draftID, eventID} {
		a.want(a.call("POST", "/api/v1/events/"+ev+"/ticket-keys/rotate", orla, map[string]any{}), 200, "")
	}

	device := a.call("POST", "/api/v1/checkin/devices", orla, map[string]any{"name": "Door", "event_ids": []string{draftID, eventID}})
	a.want(device, 201, "")
	door := device.str("credential")
	for _, ev := range []string{draftID, eventID} {
		if r := a.call("GET", "/api/v1/events/"+ev+"/ticket-keys", door, nil); r.status != 200 || len(r.data()["keys"].([]any)) != 1 {
			t.Fatalf("the door reads the keys of %s before it is revoked: %s", ev, r)
		}
	}

	a.want(a.call("DELETE", "/api/v1/checkin/devices/"+device.str("device", "id"), orla, nil), 200, "")
	for what, ev := range map[string]string{"the draft": draftID, "the published event": eventID} {
		if r := a.call("GET", "/api/v1/events/"+ev+"/ticket-keys", door, nil); r.status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("the revoked door reads the keys of %s: %s, want 401 UNAUTHORIZED", what, r)
		}
	}
	// Whoever runs the draft still reads them; anyone may read the
	// published event's.
	if r := a.call("GET", "/api/v1/events/"+draftID+"/ticket-keys", orla, nil); len(r.data()["keys"].([]any)) != 1 {
		t.Errorf("orla reads her draft's keys: %s", r)
	}
	if r := a.call("GET", "/api/v1/events/"+eventID+"/ticket-keys", "", nil); r.status != 200 || len(r.data()["keys"].([]any)) != 1 {
		t.Errorf("anyone reads the published event's keys: %s", r)
	}
}
