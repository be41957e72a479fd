package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// API is a client of the public JSON API.
type API struct {
	Base   string // e.g. http://127.0.0.1:8080
	Client *http.Client
}

// envelope is the API's answer shape.
type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Call sends body (JSON) to method path with token and decodes data into out.
func (a API) Call(ctx context.Context, method, path, token string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || !env.Success {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// Event is the inventory one scenario runs against.
type Event struct {
	ID, ShowID string
	// Zones are the zone ids; Seats their sizes.
	Zones []string
	Seats []int
}

// CreateEvent creates, through the public API as organizer, a published
// event with one show and len(seats) zones, with max_per_user.
func CreateEvent(ctx context.Context, a API, organizerToken, title string, maxPerUser int, seats []int) (*Event, error) {
	now := time.Now().UTC()
	var ev struct {
		ID string `json:"id"`
	}
	err := a.Call(ctx, "POST", "/api/v1/events", organizerToken, map[string]any{
		"title": title, "venue": "Bench Arena", "description": "load test",
		"sale_start_at": now.Add(-time.Minute).Format(time.RFC3339),
		"sale_end_at":   now.Add(24 * time.Hour).Format(time.RFC3339),
		"max_per_user":  maxPerUser,
	}, &ev)
	if err != nil {
		return nil, err
	}
	var show struct {
		ID string `json:"id"`
	}
	// The show is 30 days away: a buyer who cancels a paid booking is
	// refunded in full under the policy (more than 7 days before the show).
	if err := a.Call(ctx, "POST", "/api/v1/events/"+ev.ID+"/shows", organizerToken,
		map[string]any{"show_date": now.Add(30 * 24 * time.Hour).Format(time.RFC3339)}, &show); err != nil {
		return nil, err
	}
	out := &Event{ID: ev.ID, ShowID: show.ID, Seats: seats}
	for i, n := range seats {
		var z struct {
			ID string `json:"id"`
		}
		if err := a.Call(ctx, "POST", "/api/v1/shows/"+show.ID+"/zones", organizerToken,
			map[string]any{"name": "Zone " + strconv.Itoa(i+1), "price": "49.90", "total_seats": n}, &z); err != nil {
			return nil, err
		}
		out.Zones = append(out.Zones, z.ID)
	}
	if err := a.Call(ctx, "POST", "/api/v1/events/"+ev.ID+"/publish", organizerToken, map[string]any{}, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// Cleanup drops the run's schema and deletes its Redis keys (every key
// under bench:<run>:).
func Cleanup(ctx context.Context, db *pgxpool.Pool, rdb *redis.Client, schema, run string) error {
	if _, err := db.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return err
	}
	return DeleteKeys(ctx, rdb, "bench:"+run+":*")
}

// DeleteKeys deletes every key of rdb's database that matches pattern (SCAN
// MATCH, then UNLINK a thousand at a time).
func DeleteKeys(ctx context.Context, rdb *redis.Client, pattern string) error {
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return flush()
}
