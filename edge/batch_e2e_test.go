package edge_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	meshv1 "github.com/bookingrush/rush/gen/bookingrush/mesh/v1"
	"github.com/bookingrush/rush/gen/bookingrush/mesh/v1/meshv1connect"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// TestBatchedReservesAnswerAsAlone: the edge carries concurrent reserves to
// booking (another process) in batches, and every answer is the one the
// reserve would get alone: each user's third seat refused by the per-user
// limit, a repeated key replayed with its booking, a key reused for another
// request a conflict, bad input a validation error, a bad token 401, an
// Idempotency-Key that is not UTF-8 a validation error (it goes alone: a
// batch carries UTF-8 headers only; batched, it failed its whole batch with
// 503), all among the same batches as the holds. The holds add up, and
// Postgres agrees with Redis.
func TestBatchedReservesAnswerAsAlone(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/0"
	prefix := testkit.KeyPrefix(t, redisURL)
	dsn := pgtest.Migrated(t)
	common := []string{"-postgres.migrate-on-start=false", "-booking.key-prefix=" + prefix}
	pod := testkit.StartApp(t, testkit.Config(t, dsn, append(common, "-target=booking,relay,persister")...))
	edge := testkit.StartApp(t, testkit.Config(t, dsn, append(common, "-target=edge", "-rate-limit.enabled=false", "-edge.admission.enabled=false",
		"-peer.booking="+strings.TrimPrefix(pod.URL(t, "booking"), "http://"))...))

	const users = 60
	s := pod.SeedShop(t, testkit.ShopOptions{Seats: 1000, Users: users, MaxPerUser: 2})
	a := &api{t: t, base: edge.URL(t, "edge")}
	body := map[string]any{"show_id": s.Show, "zone_id": s.Zone, "quantity": 1}

	type outcome struct {
		user, kind string
		r          apiReply
	}
	var (
		mu  sync.Mutex
		got []outcome
		wg  sync.WaitGroup
	)
	fire := func(user, kind, token string, body any, key string) {
		wg.Go(func() {
			r := a.call("POST", "/api/v1/bookings/reserve", token, body, "Idempotency-Key", key)
			mu.Lock()
			got = append(got, outcome{user, kind, r})
			mu.Unlock()
		})
	}
	for i, user := range s.Users {
		token := edge.Token(t, user, authn.RoleUser)
		twice := "twice-" + uuid.NewString()
		fire(user, "hold", token, body, "a-"+uuid.NewString())
		fire(user, "twice", token, body, twice)
		fire(user, "twice", token, body, twice)
		if i%2 == 0 {
			fire(user, "latin1-key", token, body, "k\xffk-"+uuid.NewString()[:8])
		}
		switch i % 3 {
		case 0:
			fire(user, "invalid", token, map[string]any{"show_id": s.Show, "zone_id": s.Zone, "quantity": 0}, uuid.NewString())
		case 1:
			fire(user, "bad-token", token+"x", body, uuid.NewString())
		case 2:
			fire(user, "third", token, body, "c-"+uuid.NewString())
		}
	}
	wg.Wait()

	held := map[string]map[string]bool{} // user -> booking ids
	limited := map[string]int{}
	twice := map[string][]string{} // user -> the answers to its repeated key
	for _, o := range got {
		switch o.kind {
		case "invalid", "latin1-key":
			a.want(o.r, http.StatusBadRequest, "VALIDATION_ERROR")
			continue
		case "bad-token":
			a.want(o.r, http.StatusUnauthorized, "")
			continue
		}
		answer := "limited"
		if o.r.status == http.StatusConflict && o.r.code() == "MAX_PER_USER_EXCEEDED" {
			limited[o.user]++
		} else {
			a.want(o.r, http.StatusCreated, "")
			answer = o.r.str("id")
			if held[o.user] == nil {
				held[o.user] = map[string]bool{}
			}
			held[o.user][answer] = true
		}
		if o.kind == "twice" {
			twice[o.user] = append(twice[o.user], answer)
		}
	}
	total := 0
	for i, user := range s.Users {
		// Two holds each. A user with a third try had it refused, or its
		// repeated key refused twice (the third came first); a repeated
		// key answers one booking, or one refusal, both times.
		lo, hi := 0, 0
		if i%3 == 2 {
			lo, hi = 1, 2
		}
		if len(held[user]) != 2 || limited[user] < lo || limited[user] > hi {
			t.Errorf("user %d: %d bookings, %d refused by the limit; want 2 and %d to %d", i, len(held[user]), limited[user], lo, hi)
		}
		if tw := twice[user]; len(tw) != 2 || tw[0] != tw[1] {
			t.Errorf("user %d: a key sent twice answered %v", i, tw)
		}
		total += len(held[user])
	}

	// The calls travelled in batches: booking answered fewer batch RPCs
	// than reserves.
	text := metricsText(t, pod.URL(t, "metrics"))
	batches := metricSum(text, meshv1connect.MeshServiceBatchProcedure)
	reserves := metricSum(text, bookingv1connect.BookingServiceReserveProcedure)
	if batches == 0 || batches >= reserves {
		t.Errorf("booking answered %d batches for %d reserves: the edge did not batch", batches, reserves)
	}
	t.Logf("%d reserves in %d batches", reserves, batches)
	testkit.Eventually(t, 20*time.Second, "Postgres agrees with Redis", func() bool {
		diffs, err := booking.Reconcile(context.Background(), pod.Redis, pod.Pool, prefix, s.Event)
		return err == nil && len(diffs) == 0
	})
	held2, err := pod.Redis.HGet(context.Background(), prefix+"{ev:"+s.Event+"}:zone:"+s.Zone, "held").Int()
	if err != nil || held2 != total {
		t.Fatalf("zone holds %d seats (%v), want %d", held2, err, total)
	}
}

// TestBatchCallsAreAuthenticatedEachOnTheirOwn: a batch is sent with a
// service's identity, and none of it reaches its calls: a call without a
// token is refused as it would be alone, and a batch inside a batch is
// refused.
func TestBatchCallsAreAuthenticatedEachOnTheirOwn(t *testing.T) {
	t.Parallel()
	m := testkit.Start(t, "-target=booking")
	keys := m.Keys
	svc, _, err := keys.IssueService("edge", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	client := meshv1connect.NewMeshServiceClient(server.NewClient(), m.URL(t, "booking"))
	reserve, _ := proto.Marshal(&bookingv1.ReserveRequest{ShowId: uuid.NewString(), ZoneId: uuid.NewString(), Quantity: 1, IdempotencyKey: "k"})
	call := func(procedure string, headers ...*meshv1.Header) *meshv1.Call {
		return &meshv1.Call{Procedure: procedure, Body: reserve, Headers: append(headers,
			&meshv1.Header{Name: "Content-Type", Values: []string{"application/proto"}})}
	}
	req := connect.NewRequest(&meshv1.BatchRequest{Calls: []*meshv1.Call{
		call(bookingv1connect.BookingServiceReserveProcedure),
		call(bookingv1connect.BookingServiceReserveProcedure, &meshv1.Header{Name: "Authorization", Values: []string{"Bearer " + svc}}),
	}})
	req.Header().Set("Authorization", "Bearer "+svc)
	res, err := client.Batch(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	replies := res.Msg.GetReplies()
	if len(replies) != 2 {
		t.Fatalf("%d replies for 2 calls", len(replies))
	}
	if replies[0].GetStatus() != http.StatusUnauthorized {
		t.Errorf("a call without a token answered %d %s, want 401: the batch's identity reached it", replies[0].GetStatus(), replies[0].GetBody())
	}
	// The service's own token passes authentication: its answer is the
	// reserve's (an unknown zone), not an authentication failure.
	if s := replies[1].GetStatus(); s == http.StatusUnauthorized || s == http.StatusOK {
		t.Errorf("a call with a token answered %d %s", s, replies[1].GetBody())
	}

	nested := connect.NewRequest(&meshv1.BatchRequest{Calls: []*meshv1.Call{call(meshv1connect.MeshServiceBatchProcedure)}})
	nested.Header().Set("Authorization", "Bearer "+svc)
	if _, err := client.Batch(context.Background(), nested); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a batch inside a batch: %v, want invalid_argument", err)
	}
	anonymous := connect.NewRequest(&meshv1.BatchRequest{Calls: []*meshv1.Call{call(bookingv1connect.BookingServiceReserveProcedure)}})
	if _, err := client.Batch(context.Background(), anonymous); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("a batch without a token: %v, want unauthenticated", err)
	}
}

// metricSum adds the rpc_server_requests_total series of procedure.
func metricSum(text, procedure string) int {
	re := regexp.MustCompile(`(?m)^rpc_server_requests_total\{[^}]*procedure="` + regexp.QuoteMeta(procedure) + `"[^}]*\} (\d+)$`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}
