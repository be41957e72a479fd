package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/testkit"
)

// How long TestRandomRequests sends requests: 10 s in `make test` (every
// CI run of 3 s had missed the two bugs one run of 10 s found on
// 2026-12-05: an Idempotency-Key reused across events, one not UTF-8 in a
// batch), longer on demand
// (`go test ./edge -run TestRandomRequests -random.duration=2m`, or
// RUSH_RANDOM_DURATION=2m, or `make fuzz`).
var (
	randomDuration = flag.Duration("random.duration", envDuration("RUSH_RANDOM_DURATION", 10*time.Second),
		"how long TestRandomRequests sends hostile requests (env RUSH_RANDOM_DURATION)")
	randomSeed = flag.Uint64("random.seed", 0, "seed of TestRandomRequests; 0 picks one (the test logs it)")
)

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// TestRandomRequests sends random, mostly hostile requests to every route
// of the contracts (derived like the edge derives them, never hand-listed)
// through the real edge to the real services, with real Postgres, Redis and
// Kafka: wrong methods, random path segments, unknown and mistyped query
// parameters, bodies of every shape on every method (wrong types, huge
// numbers, invalid UTF-8, NULs, random bytes), random tokens and headers;
// among them plausible reserves, cancels and payments on a real event, so
// inventory moves. Four workers send at once. Every answer must be the
// JSON envelope (but for HEAD, and a queue stream that started) and never a
// 5xx but 503; afterwards every event's inventory must reconcile
// (available + held + sold = total per zone, Redis and Postgres agreeing).
func TestRandomRequests(t *testing.T) {
	t.Parallel()
	seed := *randomSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (-random.seed=%d makes each worker draw the same choices again), %v of requests", seed, seed, *randomDuration)

	redisURL := "redis://127.0.0.1:6379/0"
	prefix := testkit.KeyPrefix(t, redisURL)
	cfg := testkit.Config(t, pgtest.Migrated(t), "-target=all", "-postgres.migrate-on-start=false",
		"-rate-limit.enabled=false", "-payment.sim-delay=20ms", "-smtp.addr="+mailtest.NewServer(t).Addr,
		"-booking.key-prefix="+prefix, "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisURL),
		"-rate-limit.prefix="+testkit.KeyPrefix(t, redisURL), "-queue.key-prefix="+testkit.KeyPrefix(t, redisURL))
	m := testkit.StartApp(t, cfg)
	f := newFixture(t, m, seed)

	deadline := time.Now().Add(*randomDuration)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for time.Now().Before(deadline) && !f.tooManyFailures() {
				f.send(f.randomRequest(rng))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests in %v: %v", f.sent.Load(), *randomDuration, f.statusCounts())
	for _, msg := range f.failures {
		t.Error(msg)
	}
	// The run's own buyers are still signed in: had a random request ended
	// their sessions (a change of password, a deletion), the rest of the run
	// would have been 401s and tested little.
	for _, token := range f.buyers {
		f.mustCall("GET", "/api/v1/auth/me", token, "", 200, nil)
	}

	// The inventory of every event that reached the booking engine.
	ctx := context.Background()
	rows, err := m.Pool.Query(ctx, `SELECT id::text FROM events WHERE status <> 'draft'`)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		events = append(events, id)
	}
	if rows.Err() != nil || len(events) == 0 {
		t.Fatalf("no event on sale after the run (%v)", rows.Err())
	}
	for _, ev := range events {
		var last []booking.Mismatch
		var lastErr error
		for until := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if last, lastErr = booking.Reconcile(ctx, m.Redis, m.Pool, prefix, ev); lastErr == nil && len(last) == 0 {
				break
			}
			if time.Now().After(until) {
				t.Fatalf("event %s: the inventory does not reconcile after 30 s: %v %v", ev, last, lastErr)
			}
		}
	}
	t.Logf("the inventory of %d events reconciles, %v after the last request", len(events), time.Since(deadline).Round(time.Millisecond))
}

// fixture is the state the random requests draw from and add to.
type fixture struct {
	t    *testing.T
	base string
	// tokens by who holds them.
	buyers               []string
	organizer, admin     string
	expired, otherSecret string

	mu    sync.Mutex
	ids   map[string][]string // by kind: event, show, zone, booking, payment, user, slug
	owner map[string]int      // booking id -> index of the buyer who holds it

	sent     atomic.Int64
	statuses sync.Map // int -> *atomic.Int64
	failures []string
}

// newFixture registers users and puts an event on sale (two zones) and a
// draft, through the API.
func newFixture(t *testing.T, m *testkit.App, seed uint64) *fixture {
	f := &fixture{t: t, base: m.URL(t, "edge"), ids: map[string][]string{}, owner: map[string]int{}}
	register := func(email string) string {
		var out struct {
			Data struct {
				User struct{ ID string } `json:"user"`
			} `json:"data"`
		}
		// Not goodValue's password: a random change-password or
		// delete-account by the fixture's own buyers and organizer is then
		// refused (400) instead of signing them out for the rest of the run.
		f.mustCall("POST", "/api/v1/auth/register", "", fmt.Sprintf(`{"email":%q,"password":"fixture-pass-1","full_name":"R"}`, email), 201, &out)
		return out.Data.User.ID
	}
	// The user ids the random requests name are bystanders' (an admin's
	// random deletion or role change of the fixture's own buyers would end
	// their sessions for the rest of the run).
	for i := range 2 {
		f.add("user", register(fmt.Sprintf("bystander%d-%d@rush.test", i, seed)))
	}
	for i := range 4 {
		f.buyers = append(f.buyers, m.Token(t, register(fmt.Sprintf("buyer%d-%d@rush.test", i, seed)), authn.RoleUser))
	}
	f.organizer = m.Token(t, register(fmt.Sprintf("organizer-%d@rush.test", seed)), authn.RoleOrganizer)
	f.admin = m.Token(t, uuid.NewString(), authn.RoleAdmin)
	f.expired, _, _ = m.Keys.IssueAccess(uuid.NewString(), authn.RoleUser, "", time.Now().Add(-time.Hour))
	f.otherSecret = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJl"

	var ev, item struct {
		Data struct{ ID, Slug string } `json:"data"`
	}
	now := time.Now().UTC()
	for i, publish := range []bool{true, false} {
		body := fmt.Sprintf(`{"title":"Random %d","venue":"Hall","sale_start_at":%q,"sale_end_at":%q,"max_per_user":6}`,
			i, now.Add(-time.Minute).Format(time.RFC3339), now.Add(24*time.Hour).Format(time.RFC3339))
		f.mustCall("POST", "/api/v1/events", f.organizer, body, 201, &ev)
		f.add("event", ev.Data.ID)
		f.add("slug", ev.Data.Slug)
		f.mustCall("POST", "/api/v1/events/"+ev.Data.ID+"/shows", f.organizer, fmt.Sprintf(`{"show_date":%q}`, now.Add(30*24*time.Hour).Format(time.RFC3339)), 201, &item)
		show := item.Data.ID
		f.add("show", show)
		for _, seats := range []int{30, 12} {
			f.mustCall("POST", "/api/v1/shows/"+show+"/zones", f.organizer, fmt.Sprintf(`{"name":"Z%d","price":"10.00","total_seats":%d}`, seats, seats), 201, &item)
			f.add("zone", item.Data.ID)
		}
		if publish {
			f.mustCall("POST", "/api/v1/events/"+ev.Data.ID+"/publish", f.organizer, `{}`, 200, nil)
		}
	}
	return f
}

func (f *fixture) mustCall(method, path, token, body string, status int, out any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r := sendRaw(f.t, req)
	if r.status != status {
		f.t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) add(kind, id string) {
	if id == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[kind] = append(f.ids[kind], id)
}

// id returns a known id of kind, or a fresh UUID when there is none.
func (f *fixture) id(rng *rand.Rand, kind string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ids := f.ids[kind]; len(ids) > 0 {
		return ids[rng.IntN(len(ids))]
	}
	return uuid.NewString()
}

// hostile are strings that break something somewhere: encodings, control
// characters, injections, sizes, numbers in disguise.
var hostile = []string{"", " ", "\x00", "a\x00b", "\xff", "\xe2\x82", "\xc0\xaf", "%00", "%ff", "%zz", "..", "../../etc/passwd",
	"' OR 1=1 --", "<script>alert(1)</script>", "${jndi:ldap://x/a}", "😀", "\u202e", "\ufeff", "null", "true", "-1", "1e400",
	"99999999999999999999", "NaN", "0x10", "\t", "\r\n", "a/b", "a:b", "*", "{}", "[]", "\\", "\"", strings.Repeat("a", 5000),
	"00000000-0000-0000-0000-000000000000", "published", "ROLE_ADMIN", "sim_ok"}

// hostileNumbers are JSON number (and not quite number) texts.
var hostileNumbers = []string{"0", "-1", "1.5", "-0", "1e400", "-1e400", "99999999999999999999", "2147483648", "-2147483649",
	"1e2", "0.0000001", "9007199254740993"}

// randomRequest builds one request.
func (f *fixture) randomRequest(rng *rand.Rand) *http.Request {
	if rng.IntN(100) < 25 {
		return f.plausible(rng)
	}
	routes := publicRoutes()
	r := routes[rng.IntN(len(routes))]
	method := r.method
	if rng.IntN(100) < 15 {
		method = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}[rng.IntN(7)]
	}
	// Path: the template with good ids, or hostile segments.
	var segs []string
	for seg := range strings.SplitSeq(strings.TrimPrefix(r.template, "/"), "/") {
		switch {
		case strings.HasPrefix(seg, "{"):
			if rng.IntN(100) < 65 {
				seg = f.goodValue(rng, strings.Trim(seg, "{}"))
			} else {
				seg = hostile[rng.IntN(len(hostile))]
			}
		case rng.IntN(100) < 2:
			seg = hostile[rng.IntN(len(hostile))]
		}
		segs = append(segs, seg)
	}
	u, _ := url.Parse(f.base)
	escaped := make([]string, len(segs))
	for i, s := range segs {
		escaped[i] = url.PathEscape(s)
	}
	u.Path, u.RawPath = "/"+strings.Join(segs, "/"), "/"+strings.Join(escaped, "/")
	u.RawQuery = f.randomQuery(rng, r)

	var body []byte
	if r.body != "" || rng.IntN(100) < 30 {
		body = f.randomBody(rng, r.md.Input(), 0)
	}
	req, err := http.NewRequest(method, f.base, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.URL = u // as built: a raw query may hold what url.Parse refuses
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	f.randomHeaders(rng, req)
	return req
}

// plausible is a well-formed step of a buyer's way, so that inventory
// moves: mostly reserves of 1 to 3 seats of a real zone (sometimes with a
// reused idempotency key), else a cancel, a payment or a confirmation of a
// booking, by its owner.
func (f *fixture) plausible(rng *rand.Rand) *http.Request {
	buyer := rng.IntN(len(f.buyers))
	path, body := "/api/v1/bookings/reserve", fmt.Sprintf(`{"show_id":%q,"zone_id":%q,"quantity":%d}`, f.id(rng, "show"), f.id(rng, "zone"), 1+rng.IntN(3))
	if n := rng.IntN(100); n >= 60 {
		f.mu.Lock()
		if held := f.ids["booking"]; len(held) > 0 {
			b := held[rng.IntN(len(held))]
			buyer = f.owner[b]
			switch {
			case n < 75:
				path, body = "/api/v1/bookings/"+b+"/cancel", `{}`
			case n < 92:
				path, body = "/api/v1/payments", fmt.Sprintf(`{"booking_id":%q,"payment_method":%q}`, b, []string{"sim_ok", "sim_ok", "sim_declined"}[rng.IntN(3)])
			default:
				path, body = "/api/v1/bookings/"+b+"/confirm", `{}`
			}
		}
		f.mu.Unlock()
	}
	req, _ := http.NewRequest("POST", f.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.buyers[buyer])
	req.Header.Set("Idempotency-Key", fmt.Sprintf("random-key-%d-%d", buyer, rng.IntN(200)))
	return req
}

// goodValue is a plausible value for a field or path variable named name.
func (f *fixture) goodValue(rng *rand.Rand, name string) string {
	switch name {
	case "event_id", "show_id", "zone_id", "booking_id", "payment_id", "user_id", "slug":
		return f.id(rng, strings.TrimSuffix(name, "_id"))
	case "email":
		return fmt.Sprintf("r%d@rush.test", rng.IntN(1000))
	case "password", "new_password":
		return "secret-pass-1"
	case "price":
		return "12.50"
	case "payment_method":
		return []string{"sim_ok", "sim_declined", "sim_slow", "card"}[rng.IntN(4)]
	case "role":
		return []string{"user", "organizer", "admin"}[rng.IntN(3)]
	case "from", "to":
		return time.Now().AddDate(0, 0, rng.IntN(10)-5).Format(time.DateOnly)
	case "time_zone":
		return []string{"Europe/Paris", "UTC", "Asia/Kathmandu", "Mars/Olympus_Mons", "Local", "europe/paris", ""}[rng.IntN(7)]
	}
	if strings.HasSuffix(name, "_id") {
		return uuid.NewString()
	}
	return "text"
}

// randomQuery mixes the route's own parameters (good or mistyped values)
// with unknown ones, escaped or raw.
func (f *fixture) randomQuery(rng *rand.Rand, r publicRoute) string {
	var parts []string
	fields := r.md.Input().Fields()
	for range rng.IntN(5) {
		name := []string{"utm_source", "_", "q", "", "fbclid", "page.x", "meta.page", "a[b]", "\xff", "%zz"}[rng.IntN(10)]
		if fields.Len() > 0 && rng.IntN(100) < 60 {
			fd := fields.Get(rng.IntN(fields.Len()))
			name = string(fd.Name())
			if rng.IntN(4) == 0 {
				name = fd.JSONName()
			}
		}
		var value string
		switch rng.IntN(4) {
		case 0:
			value = f.goodValue(rng, name)
		case 1:
			value = hostileNumbers[rng.IntN(len(hostileNumbers))]
		default:
			value = hostile[rng.IntN(len(hostile))]
		}
		if rng.IntN(5) == 0 {
			// Raw: broken escapes and bytes as they are, but what HTTP
			// cannot carry in a request line (controls, spaces) escaped.
			parts = append(parts, rawQueryText(name)+"="+rawQueryText(value))
		} else {
			parts = append(parts, url.QueryEscape(name)+"="+url.QueryEscape(value))
		}
	}
	return strings.Join(parts, "&")
}

// rawQueryText escapes only the bytes a request line cannot carry.
func rawQueryText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// randomBody is a body for a request of type md: mostly a JSON object of
// its fields with good or hostile values, else any shape at all.
func (f *fixture) randomBody(rng *rand.Rand, md protoreflect.MessageDescriptor, depth int) []byte {
	switch n := rng.IntN(100); {
	case depth == 0 && n < 8:
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	case depth == 0 && n < 12:
		return []byte([]string{`null`, `[]`, `"x"`, `1`, `true`, `{`, `{"a":}`, `{}{}`, `{"a":1,"a":2}`,
			strings.Repeat("[", 3000) + strings.Repeat("]", 3000), `{"` + strings.Repeat("k", 70000) + `":1}`}[rng.IntN(11)])
	case depth == 0 && n < 14:
		return nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	fields := md.Fields()
	first := true
	for i := range fields.Len() {
		fd := fields.Get(i)
		if rng.IntN(100) < 30 {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		name := string(fd.Name())
		if rng.IntN(4) == 0 {
			name = fd.JSONName()
		}
		b.WriteString(jsonString(name))
		b.WriteByte(':')
		b.Write(f.randomValue(rng, fd, depth))
	}
	if rng.IntN(10) == 0 {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(`"unknown_field":{"x":[1,"\u0000",null]}`)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// randomValue is a JSON value for fd: of its type, or hostile.
func (f *fixture) randomValue(rng *rand.Rand, fd protoreflect.FieldDescriptor, depth int) []byte {
	if rng.IntN(100) < 35 {
		switch rng.IntN(4) {
		case 0:
			return []byte(hostileNumbers[rng.IntN(len(hostileNumbers))])
		case 1:
			return []byte([]string{"null", "true", "[]", "{}", `[1,"a",null]`, `{"x":{"y":{}}}`}[rng.IntN(6)])
		default:
			return []byte(jsonString(hostile[rng.IntN(len(hostile))]))
		}
	}
	if fd.IsList() && rng.IntN(2) == 0 {
		return []byte("[" + string(f.scalar(rng, fd, depth)) + "]")
	}
	if fd.IsMap() {
		return []byte(`{"k":` + jsonString(f.goodValue(rng, "v")) + `}`)
	}
	return f.scalar(rng, fd, depth)
}

func (f *fixture) scalar(rng *rand.Rand, fd protoreflect.FieldDescriptor, depth int) []byte {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return []byte(strconv.FormatBool(rng.IntN(2) == 0))
	case protoreflect.StringKind:
		return []byte(jsonString(f.goodValue(rng, string(fd.Name()))))
	case protoreflect.BytesKind:
		return []byte(`"aGVsbG8="`)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		name := string(vals.Get(rng.IntN(vals.Len())).Name())
		if i := strings.LastIndexByte(name, '_'); i >= 0 && rng.IntN(2) == 0 {
			name = strings.ToLower(name[i+1:])
		}
		return []byte(jsonString(name))
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return []byte(jsonString(time.Now().Add(time.Duration(rng.IntN(96)-24) * time.Hour).UTC().Format(time.RFC3339)))
		case "google.protobuf.Duration":
			return []byte(`"30s"`)
		}
		if depth > 2 {
			return []byte("{}")
		}
		return f.randomBody(rng, fd.Message(), depth+1)
	}
	return []byte(strconv.Itoa(rng.IntN(8)))
}

// jsonString writes s as a JSON string keeping invalid UTF-8 bytes as they
// are (encoding/json would replace them), so bodies carry them.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (f *fixture) randomHeaders(rng *rand.Rand, req *http.Request) {
	switch n := rng.IntN(100); {
	case n < 80:
		req.Header.Set("Content-Type", "application/json")
	case n < 95:
		req.Header.Set("Content-Type", []string{"text/plain", "application/json; charset=utf-16", "multipart/form-data",
			"application/x-www-form-urlencoded", "application/proto", "*/*", ";;;", "application/json; charset=\xff"}[rng.IntN(8)])
	}
	var tok string
	switch n := rng.IntN(100); {
	case n < 50:
		tok = f.buyers[rng.IntN(len(f.buyers))]
	case n < 62:
		tok = f.organizer
	case n < 70:
		tok = f.admin
	case n < 80:
	default:
		tok = []string{"garbage", f.expired, f.otherSecret, ""}[rng.IntN(4)]
	}
	switch {
	case tok == "":
	case rng.IntN(10) == 0:
		req.Header.Set("Authorization", "Basic "+tok)
	default:
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rng.IntN(3) == 0 {
		req.Header.Set("Idempotency-Key", []string{"short", fmt.Sprintf("random-key-%d", rng.IntN(400)), strings.Repeat("k", 300), "k\xffk-12345678"}[rng.IntN(4)])
	}
	if rng.IntN(10) == 0 {
		req.Header.Set("X-Queue-Pass", []string{"", "x", "ÿþ", "pass.with.dots", strings.Repeat("p", 2000)}[rng.IntN(5)])
	}
	if rng.IntN(10) == 0 {
		req.Header.Set("X-Request-ID", []string{"ok-id", strings.Repeat("x", 500), "a b", "\xff"}[rng.IntN(4)])
	}
}

// send sends req and records whatever is wrong with the answer.
func (f *fixture) send(req *http.Request) {
	f.sent.Add(1)
	var sent []byte
	if req.Body != nil && req.Body != http.NoBody {
		sent, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	stream := req.URL.Path == "/api/v1/queue/events"
	timeout := 20 * time.Second
	if stream {
		timeout = 2 * time.Second // a stream that started waits for changes
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	describe := func() string {
		b := sent
		if len(b) > 300 {
			b = b[:300]
		}
		return fmt.Sprintf("%s %s (Content-Type %q, Authorization %.20q) body %q", req.Method, req.URL.RequestURI(),
			req.Header.Get("Content-Type"), req.Header.Get("Authorization"), b)
	}
	if err != nil {
		if stream && ctx.Err() != nil {
			return
		}
		f.fail("%s: no answer: %v", describe(), err)
		return
	}
	defer res.Body.Close()
	f.count(res.StatusCode)
	if stream && res.StatusCode == http.StatusOK && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		return
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		f.fail("%s: %d, body cut: %v", describe(), res.StatusCode, err)
		return
	}
	r := rawReply{status: res.StatusCode, header: res.Header, body: body}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		f.fail("%s: %d %s", describe(), res.StatusCode, body)
		return
	}
	if req.Method == http.MethodHead {
		return
	}
	if _, ok := r.envelopeCode(); !ok {
		f.fail("%s: %d, not the envelope: %.300s", describe(), res.StatusCode, body)
		return
	}
	// Keep what the requests created, for later requests to use.
	if res.StatusCode == http.StatusCreated {
		var out struct {
			Data struct{ ID, Status string } `json:"data"`
		}
		if json.Unmarshal(body, &out) == nil {
			switch {
			case req.URL.Path == "/api/v1/bookings/reserve":
				f.add("booking", out.Data.ID)
				f.mu.Lock()
				if i := slices.Index(f.buyers, strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")); i >= 0 {
					f.owner[out.Data.ID] = i
				}
				f.mu.Unlock()
			case req.URL.Path == "/api/v1/payments":
				f.add("payment", out.Data.ID)
			}
		}
	}
}

func (f *fixture) count(status int) {
	c, _ := f.statuses.LoadOrStore(status, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

func (f *fixture) statusCounts() map[int]int64 {
	out := map[int]int64{}
	f.statuses.Range(func(k, v any) bool { out[k.(int)] = v.(*atomic.Int64).Load(); return true })
	return out
}

func (f *fixture) fail(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

// tooManyFailures stops the run early: 30 examples are enough to read.
func (f *fixture) tooManyFailures() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.failures) >= 30
}
