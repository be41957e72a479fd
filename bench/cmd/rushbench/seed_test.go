package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bookingrush/rush/bench/internal/mesh"
)

// The seed's gateway parses the token with its secret (HMAC only) into
// MapClaims, refuses it without a user_id, and forwards user_id and
// tenant_id: the same checks here.
func TestSeedTokensPassTheSeedGatewayChecks(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	users := []mesh.User{{ID: "6f1c1f9e-0000-4000-8000-000000000001"}, {ID: "6f1c1f9e-0000-4000-8000-000000000002"}}
	tokens, err := seedTokens(secret, users, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
			if _, ok := tk.Method.(*jwt.SigningMethodHMAC); !ok {
				return nil, errors.New("not HMAC")
			}
			return secret, nil
		})
		if err != nil || !parsed.Valid {
			t.Fatalf("token %d: %v", i, err)
		}
		c := parsed.Claims.(jwt.MapClaims)
		if c["user_id"] != users[i].ID || c["sub"] != users[i].ID || c["tenant_id"] != mesh.DefaultTenant || c["role"] != "customer" {
			t.Errorf("token %d claims %v", i, c)
		}
		if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("another secret"), nil }); err == nil {
			t.Errorf("token %d passes with another secret", i)
		}
	}
	old, _ := seedTokens(secret, users[:1], time.Now().Add(-2*time.Hour), time.Hour)
	if _, err := jwt.Parse(old[0], func(*jwt.Token) (any, error) { return secret, nil }); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("expired token: %v", err)
	}
}

func TestSeedBodiesCarryWhatTheSeedBinds(t *testing.T) {
	out := seedBodies("ev", "sh", []string{"z1", "z2"}, 2)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), out)
	}
	for i, l := range lines {
		var b map[string]any
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"event_id": "ev", "show_id": "sh", "zone_id": []string{"z1", "z2"}[i], "quantity": 2.0, "unit_price": seedPrice}
		for k, v := range want {
			if b[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, b[k], v)
			}
		}
	}
}

func TestSeedAudit(t *testing.T) {
	base := seedCount{Seats: []int64{100, 100}, Quantity: 1, Cut: 4}
	for _, tc := range []struct {
		name      string
		available []int64
		answers   uint64
		rowSeats  int64
		fails     int
	}{
		{"exact", []int64{90, 90}, 20, 20, 0},
		{"cut requests held, one without its row", []int64{88, 89}, 20, 22, 0},
		{"a hold answered without its row", []int64{90, 90}, 20, 19, 1},
		{"a row without its hold", []int64{90, 91}, 20, 20, 1},
		{"more held than answered and cut", []int64{80, 95}, 20, 25, 1},
		{"oversold", []int64{-1, 91}, 110, 110, 1},
	} {
		c := base
		c.Available, c.Answers, c.RowSeats = tc.available, tc.answers, tc.rowSeats
		text, failed := c.check()
		if len(failed) != tc.fails {
			t.Errorf("%s: %d failures, want %d:\n%s", tc.name, len(failed), tc.fails, text)
		}
	}
}

func TestCountStatusesReadsTheGatewayLog(t *testing.T) {
	log := `{"level":"info","message":"Request completed","status":201,"method":"POST","path":"/api/v1/bookings/reserve"}
[DEBUG] Proxying POST /api/v1/bookings/reserve to booking-service
{"level":"warn","message":"Client error","status":429,"method":"POST","path":"/api/v1/bookings/reserve"}
{"level":"info","message":"Request completed","status":200,"method":"GET","path":"/ready"}
{"level":"info","message":"Request completed","status":201,"method":"POST","path":"/api/v1/bookings/reserve"}
`
	got, err := countStatuses(strings.NewReader(log), seedReservePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[201] != 2 || got[429] != 1 {
		t.Errorf("counts %v", got)
	}
}

// The wrk script sends what the seed's reserve route reads: a rotating
// token, a fresh X-Idempotency-Key, the zone's body, and an address of
// each buyer's own.
func TestSeedWrkScript(t *testing.T) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed")
	}
	var mu sync.Mutex
	keys := map[string]bool{}
	byToken := map[string]map[string]bool{} // token -> addresses
	bodies := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != seedReservePath || r.Header.Get("Idempotency-Key") != "" {
			t.Errorf("%s %s, Idempotency-Key %q", r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"))
		}
		k := r.Header.Get("X-Idempotency-Key")
		if keys[k] || !strings.HasPrefix(k, "pre-") {
			t.Errorf("key %q again or without the prefix", k)
		}
		keys[k] = true
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if byToken[tok] == nil {
			byToken[tok] = map[string]bool{}
		}
		byToken[tok][r.Header.Get("X-Forwarded-For")] = true
		bodies[string(body)] = true
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	dir := t.TempDir()
	tokens, bodiesFile := filepath.Join(dir, "tokens"), filepath.Join(dir, "bodies")
	want := map[string]string{"tok0": "10.0.0.0", "tok1": "10.0.0.1", "tok2": "10.0.0.2"}
	if err := os.WriteFile(tokens, []byte("tok0\ntok1\ntok2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bodiesFile, []byte(seedBodies("ev", "sh", []string{"z1", "z2"}, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t2", "-c2", "-d1s", "-s", filepath.Join("..", "..", "wrk", "seed-reserve.lua"), srv.URL,
		"--", tokens, bodiesFile, "pre-", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "rushbench-wrk {") {
		t.Errorf("no report line: %s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) < 10 || len(bodies) != 2 || len(byToken) != 3 {
		t.Fatalf("%d keys, %d bodies, %d tokens", len(keys), len(bodies), len(byToken))
	}
	for tok, addrs := range byToken {
		if len(addrs) != 1 || !addrs[want[tok]] {
			t.Errorf("%s came from %v, want %s", tok, addrs, want[tok])
		}
	}
}
