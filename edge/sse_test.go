package edge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/testkit"
)

// sseStream is one GET /api/v1/queue/events read the way EventSource reads
// it: data lines (the envelope), comment lines (heartbeats), until the
// server ends the stream.
type sseStream struct {
	proto  string
	status int
	header http.Header
	events chan map[string]any // data of each event (the envelope's data); closed at the end
	pings  chan struct{}
	first  string // the first line of the body
	cancel context.CancelFunc
}

// openStream opens the stream with query (and a bearer token when not "")
// over HTTP/1.1, the way browsers reach the edge behind most proxies.
func openStream(t *testing.T, base, query, token string) *sseStream {
	return openStreamWith(t, http.DefaultClient, base, query, token)
}

// h2c speaks cleartext HTTP/2 with prior knowledge.
var h2c = func() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}()

// openStreamWith opens the stream with c.
func openStreamWith(t *testing.T, c *http.Client, base, query, token string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/queue/events?"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &sseStream{proto: res.Proto, status: res.StatusCode, header: res.Header, events: make(chan map[string]any, 100), pings: make(chan struct{}, 100), cancel: cancel}
	if res.StatusCode != http.StatusOK {
		var env map[string]any
		_ = json.NewDecoder(res.Body).Decode(&env)
		res.Body.Close()
		s.events <- env
		close(s.events)
		return s
	}
	sc := bufio.NewScanner(res.Body)
	if sc.Scan() {
		s.first = sc.Text()
	}
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ":"):
				select {
				case s.pings <- struct{}{}:
				default:
				}
			case strings.HasPrefix(line, "data: "):
				var env struct {
					Success bool           `json:"success"`
					Data    map[string]any `json:"data"`
					Error   map[string]any `json:"error"`
				}
				if err := json.Unmarshal([]byte(line[6:]), &env); err != nil || !env.Success {
					s.events <- map[string]any{"bad": line}
					continue
				}
				s.events <- env.Data
			case strings.HasPrefix(line, "event: "):
				s.events <- map[string]any{"bad": line}
			}
		}
	}()
	return s
}

// next is the stream's next event; nil when it ended.
func (s *sseStream) next(t *testing.T, within time.Duration) map[string]any {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			return nil
		}
		if ev["bad"] != nil {
			t.Fatalf("the stream sent %v", ev["bad"])
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
		return nil
	}
}

// until reads events until one has status want and returns it; the stream
// must end right after.
func (s *sseStream) until(t *testing.T, want string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ev := s.next(t, time.Until(deadline))
		if ev == nil {
			t.Fatalf("the stream ended before %q", want)
		}
		if ev["status"] == want {
			if after := s.next(t, 5*time.Second); after != nil {
				t.Fatalf("the stream went on after %q: %v", want, after)
			}
			return ev
		}
		if ev["status"] != "waiting" {
			t.Fatalf("event %v before %q", ev, want)
		}
	}
}

// TestWaitingRoomThroughTheEdge walks the waiting room through a real edge
// in front of the real queue service, admitter and booking engine: the
// organizer sets the two knobs (PUT /events/{id}/queue), buyers join, hold
// the stream a browser's EventSource would (the ticket in the query string,
// no Authorization), hear their place and heartbeats, are admitted with a
// pass that reserves once, and are told "sold_out" when the last seat is
// held; the public line is a cacheable GET.
func TestWaitingRoomThroughTheEdge(t *testing.T) {
	t.Parallel()
	m := startMesh(t, "-edge.queue-update-interval=100ms", "-edge.queue-heartbeat=300ms", "-edge.trusted-proxies=127.0.0.1/32")
	a := &api{t: t, base: m.URL(t, "edge")}
	_, orgID := a.register("wr-org@rush.test")
	org := m.Token(t, orgID, authn.RoleOrganizer)
	ev := a.call("POST", "/api/v1/events", org, map[string]any{"title": "Waiting room", "venue": "Hall",
		"sale_start_at": "2026-01-01T00:00:00Z", "sale_end_at": "2030-01-01T00:00:00Z"})
	a.want(ev, 201, "")
	eventID := ev.str("id")
	show := a.call("POST", "/api/v1/events/"+eventID+"/shows", org, map[string]any{"show_date": "2030-06-01T20:00:00Z"})
	a.want(show, 201, "")
	zone := a.call("POST", "/api/v1/shows/"+show.str("id")+"/zones", org, map[string]any{"name": "Floor", "price": "10.00", "total_seats": 2})
	a.want(zone, 201, "")
	a.want(a.call("POST", "/api/v1/events/"+eventID+"/publish", org, map[string]any{}), 200, "")

	// The knobs: the organizer's, not another's nor a buyer's.
	buyerA, _ := a.register("wr-a@rush.test")
	buyerB, _ := a.register("wr-b@rush.test")
	buyerC, _ := a.register("wr-c@rush.test")
	settings := map[string]any{"enabled": true, "admit_per_second": 1000, "max_active": 1}
	a.want(a.call("PUT", "/api/v1/events/"+eventID+"/queue", m.Token(t, "00000000-0000-7000-8000-000000000099", authn.RoleOrganizer), settings), 403, "FORBIDDEN")
	a.want(a.call("PUT", "/api/v1/events/"+eventID+"/queue", buyerA, settings), 403, "FORBIDDEN")
	set := a.call("PUT", "/api/v1/events/"+eventID+"/queue", org, settings)
	a.want(set, 200, "")
	if d := set.data(); d["enabled"] != true || d["admit_per_second"] != 1000.0 || d["max_active"] != 1.0 {
		t.Fatalf("queue settings: %s", set)
	}

	// The public line: anonymous, cacheable.
	line := a.call("GET", "/api/v1/queue/lines/"+eventID, "", nil)
	a.want(line, 200, "")
	if line.header.Get("Cache-Control") != "public, max-age=1" || line.data()["enabled"] != true {
		t.Fatalf("line: %s %v", line, line.header)
	}

	join := func(token string) (ticket string) {
		r := a.call("POST", "/api/v1/queue/join", token, map[string]any{"event_id": eventID})
		a.want(r, 200, "")
		if r.str("ticket") == "" {
			t.Fatalf("join without a ticket: %s", r)
		}
		return r.str("ticket")
	}
	reserve := func(token, pass, key string) apiReply {
		return a.call("POST", "/api/v1/bookings/reserve", token, map[string]any{"show_id": show.str("id"), "zone_id": zone.str("id"), "quantity": 1},
			"Idempotency-Key", key, "X-Queue-Pass", pass)
	}
	base := m.URL(t, "edge")
	ta := join(buyerA)
	sa := openStream(t, base, "ticket="+url.QueryEscape(ta), "")
	if sa.status != 200 || sa.header.Get("Content-Type") != "text/event-stream" || sa.header.Get("X-Request-Id") == "" || sa.first != "retry: 30000" {
		t.Fatalf("stream: %d %v, first line %q", sa.status, sa.header, sa.first)
	}
	admittedA := sa.until(t, "admitted", 10*time.Second)
	passA, _ := admittedA["queue_pass"].(string)
	if passA == "" || admittedA["pass_expires_at"] == nil {
		t.Fatalf("admission without a pass: %v", admittedA)
	}

	// B waits behind the cap (one active shopper): it hears its place and
	// the heartbeat.
	tb := join(buyerB)
	sb := openStream(t, base, "event_id="+eventID+"&ticket="+url.QueryEscape(tb), "")
	if ev := sb.next(t, 5*time.Second); ev["status"] != "waiting" || ev["position"] != 1.0 || ev["total"] != 1.0 {
		t.Fatalf("B's first event: %v", ev)
	}
	select {
	case <-sb.pings:
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat on a quiet stream")
	}

	// A reserves with its pass, once: B is admitted at once.
	a.want(reserve(buyerA, passA, "wr-key-0001"), 201, "")
	a.want(reserve(buyerA, passA, "wr-key-0002"), 403, "QUEUE_PASS_REQUIRED")
	passB, _ := sb.until(t, "admitted", 10*time.Second)["queue_pass"].(string)
	a.want(reserve(buyerA, passB, "wr-key-0003"), 403, "QUEUE_PASS_REQUIRED") // another buyer's pass

	// C holds the stream the old way (bearer token, event id); B takes the
	// last seat: C hears "sold_out" and the stream ends.
	join(buyerC)
	sc := openStream(t, base, "event_id="+eventID, buyerC)
	first := sc.next(t, 5*time.Second)
	if first["status"] != "waiting" || first["ticket"] == "" {
		t.Fatalf("C's first event: %v", first)
	}
	held := reserve(buyerB, passB, "wr-key-0004")
	a.want(held, 201, "")
	soldAt := time.Now()
	sc.until(t, "sold_out", 5*time.Second)
	t.Logf("sold out told %v after the last seat was held", time.Since(soldAt).Round(time.Millisecond))
	if l := a.call("GET", "/api/v1/queue/lines/"+eventID, "", nil); l.data()["sold_out"] != true {
		t.Fatalf("line when sold out: %s", l)
	}

	// Seats come back (B cancels): the line says so, and C, streaming
	// again (over HTTP/2 this time, which the edge cannot take over: the
	// request's goroutine stays), hears its place and is admitted.
	a.want(a.call("POST", "/api/v1/bookings/"+held.str("id")+"/cancel", buyerB, nil), 200, "")
	testkit.Eventually(t, 5*time.Second, "the line open again", func() bool {
		return a.call("GET", "/api/v1/queue/lines/"+eventID, "", nil).data()["sold_out"] == false
	})
	sc = openStreamWith(t, h2c, base, "ticket="+url.QueryEscape(first["ticket"].(string)), "")
	if sc.proto != "HTTP/2.0" || sc.status != 200 || sc.first != "retry: 30000" {
		t.Fatalf("stream over HTTP/2: %s %d %v, first line %q", sc.proto, sc.status, sc.header, sc.first)
	}
	passC, _ := sc.until(t, "admitted", 10*time.Second)["queue_pass"].(string)
	_, idC := a.register("wr-d@rush.test")
	if passC == "" {
		t.Fatal("admitted over HTTP/2 without a pass")
	}
	// The pass is C's only.
	a.want(reserve(m.Token(t, idC, authn.RoleUser), passC, "wr-key-0005"), 403, "QUEUE_PASS_REQUIRED")
	a.want(reserve(buyerC, passC, "wr-key-0006"), 201, "")

	// What a stream refuses, as ordinary JSON errors.
	for _, c := range []struct {
		query, token string
		status       int
		code         string
	}{
		{"event_id=" + eventID, "", 401, "UNAUTHORIZED"},
		{"ticket=not-a-ticket", "", 401, "UNAUTHORIZED"},
		{"ticket=" + url.QueryEscape(ta) + "&event_id=" + "00000000-0000-7000-8000-000000000001", "", 400, "VALIDATION_ERROR"},
		{"ticket=" + url.QueryEscape(ta), buyerB, 403, "FORBIDDEN"},
		{"event_id=nope", buyerA, 400, "VALIDATION_ERROR"},
		{"event_id=" + "00000000-0000-7000-8000-000000000001", buyerA, 404, "NOT_FOUND"},
	} {
		s := openStream(t, base, c.query, c.token)
		env := <-s.events
		e, _ := env["error"].(map[string]any)
		if s.status != c.status || e["code"] != c.code {
			t.Errorf("stream ?%s: %d %v, want %d %s", c.query, s.status, env, c.status, c.code)
		}
	}
}
