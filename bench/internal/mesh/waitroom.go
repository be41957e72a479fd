package mesh

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bookingrush/rush/bench/internal/load"
)

// SetQueue switches the event's waiting room on with its two knobs, as its
// organizer would: PUT /api/v1/events/{id}/queue.
func SetQueue(ctx context.Context, a API, organizerToken, eventID string, rate, maxActive int) error {
	return a.Call(ctx, "PUT", "/api/v1/events/"+eventID+"/queue", organizerToken,
		map[string]any{"enabled": true, "admit_per_second": rate, "max_active": maxActive}, nil)
}

// Line is the public state of an event's line (GET /api/v1/queue/lines/{id}).
type Line struct {
	Enabled      bool `json:"enabled"`
	Opened       bool `json:"opened"`
	AdmittedUpTo int  `json:"admitted_up_to"`
	Joined       int  `json:"joined"`
	Waiting      int  `json:"waiting"`
	SoldOut      bool `json:"sold_out"`
	Active       int  `json:"active"`
}

// GetLine reads the event's line, anonymously (the cacheable route).
func GetLine(ctx context.Context, a API, eventID string) (Line, error) {
	var l Line
	err := a.Call(ctx, "GET", "/api/v1/queue/lines/"+eventID, "", nil, &l)
	return l, err
}

// QueueStatus is a buyer's place (GET /api/v1/queue/status).
type QueueStatus struct {
	Status    string `json:"status"`
	Position  int    `json:"position"`
	Ticket    string `json:"ticket"`
	QueuePass string `json:"queue_pass"`
}

// GetQueueStatus reads the place of the bearer of token.
func GetQueueStatus(ctx context.Context, a API, token, eventID string) (QueueStatus, error) {
	var st QueueStatus
	err := a.Call(ctx, "GET", "/api/v1/queue/status?event_id="+eventID, token, nil, &st)
	return st, err
}

// JoinHTTP returns a Doer that joins the event's line through the edge as
// user seq (POST /api/v1/queue/join with tokens[seq]) and keeps the ticket
// in tickets[seq]: one identity, one request.
func JoinHTTP(c *http.Client, base, eventID string, tokens, tickets []string) load.Doer {
	u := base + "/api/v1/queue/join"
	body, _ := json.Marshal(map[string]any{"event_id": eventID})
	return func(ctx context.Context, seq uint64) load.Answer {
		var data QueueStatus
		r := send(ctx, c, u, "Bearer "+tokens[seq], "", body, &data)
		if r.failed != "" {
			return load.Answer{Outcome: r.failed}
		}
		tickets[seq] = data.Ticket
		return load.Answer{Outcome: outcome(r.status, r.code), Expected: r.status == http.StatusOK && data.Ticket != ""}
	}
}

// ReserveWithPassHTTP returns a Doer in which user seq (tokens[seq])
// reserves one seat of the event's first zone with its queue pass
// (passes[seq], the X-Queue-Pass header).
func ReserveWithPassHTTP(c *http.Client, base string, ev *Event, keyPrefix string, tokens, passes []string, answered func(seq uint64, at time.Time)) load.Doer {
	u := base + "/api/v1/bookings/reserve"
	body, _ := json.Marshal(map[string]any{"show_id": ev.ShowID, "zone_id": ev.Zones[0], "quantity": 1})
	return func(ctx context.Context, seq uint64) load.Answer {
		var data struct {
			Quantity int `json:"quantity"`
		}
		r := send(ctx, c, u, "Bearer "+tokens[seq], keyPrefix+strconv.FormatUint(seq, 36), body, &data,
			"X-Queue-Pass", passes[seq])
		if r.failed != "" {
			return load.Answer{Outcome: r.failed}
		}
		if r.status == http.StatusCreated {
			answered(seq, time.Now())
		}
		return load.Answer{Outcome: outcome(r.status, r.code), Expected: r.status == http.StatusCreated, Seats: data.Quantity}
	}
}

// Watch is one buyer holding the waiting room's stream
// (GET /api/v1/queue/events?ticket=, as a browser's EventSource would).
type Watch struct {
	mu  sync.Mutex
	rec WatchRecord
}

// WatchRecord is what a Watch heard.
type WatchRecord struct {
	// Opened is when the request was sent; First when the first event
	// arrived (zero until then).
	Opened, First time.Time
	// Events and Pings count data events and heartbeat comments.
	Events, Pings int
	// Final is the status of the last event ("sold_out", "admitted"...)
	// when the server ended the stream; FinalAt when it arrived.
	Final   string
	FinalAt time.Time
	// Ended is when the stream ended, by the server or by an error (Err).
	Ended time.Time
	Err   error
}

// Snapshot returns what w heard so far.
func (w *Watch) Snapshot() WatchRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rec
}

// OpenWatch opens the stream of ticket and records what it hears until
// ctx ends or the server ends the stream.
func OpenWatch(ctx context.Context, c *http.Client, base, ticket string) *Watch {
	w := &Watch{rec: WatchRecord{Opened: time.Now()}}
	go w.read(ctx, c, base+"/api/v1/queue/events?ticket="+url.QueryEscape(ticket))
	return w
}

func (w *Watch) read(ctx context.Context, c *http.Client, u string) {
	end := func(err error) {
		w.mu.Lock()
		w.rec.Ended, w.rec.Err = time.Now(), err
		w.mu.Unlock()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		end(err)
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		end(fmt.Errorf("transport: %s", shortErr(err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		end(fmt.Errorf("%s: %s", resp.Status, raw))
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		now := time.Now()
		switch {
		case strings.HasPrefix(line, ":"):
			w.mu.Lock()
			w.rec.Pings++
			w.mu.Unlock()
		case strings.HasPrefix(line, "data: "):
			var env struct {
				Data struct {
					Status string `json:"status"`
				} `json:"data"`
			}
			_ = json.Unmarshal([]byte(line[6:]), &env)
			w.mu.Lock()
			if w.rec.First.IsZero() {
				w.rec.First = now
			}
			w.rec.Events++
			if env.Data.Status != "waiting" {
				w.rec.Final, w.rec.FinalAt = env.Data.Status, now
			}
			w.mu.Unlock()
		}
	}
	if ctx.Err() != nil {
		end(nil)
		return
	}
	end(sc.Err())
}

// RedisStat is one command's count in INFO commandstats: calls, and the
// microseconds Redis spent in them (a script's: the whole script, its own
// commands counted again under their names).
type RedisStat struct {
	Calls, Usec int64
}

// RedisCommands is what the Redis server has run, in all and by command
// (INFO commandstats; commands a script runs count too).
func RedisCommands(ctx context.Context, rdb *redis.Client) (total int64, byCommand map[string]RedisStat, err error) {
	raw, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, nil, err
	}
	byCommand = map[string]RedisStat{}
	for _, l := range strings.Split(raw, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var st RedisStat
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				st.Calls = n
			case "usec":
				st.Usec = n
			}
		}
		byCommand[strings.TrimPrefix(name, "cmdstat_")] = st
		total += st.Calls
	}
	return total, byCommand, nil
}

// GoMemory is what a rush process reports of its memory (its /metrics),
// read right after a forced GC (/debug/pprof/heap?gc=1), so the heap holds
// what is live.
type GoMemory struct {
	HeapInuse, StackInuse, RSS float64
	Goroutines                 float64
}

// ReadGoMemory forces a GC in the process serving metricsAddr and reads its
// memory figures.
func ReadGoMemory(ctx context.Context, metricsAddr string) (GoMemory, error) {
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	if _, err := get("/debug/pprof/heap?gc=1"); err != nil {
		return GoMemory{}, err
	}
	raw, err := get("/metrics")
	if err != nil {
		return GoMemory{}, err
	}
	var m GoMemory
	for _, l := range strings.Split(string(raw), "\n") {
		name, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = f
		case "go_memstats_stack_inuse_bytes":
			m.StackInuse = f
		case "process_resident_memory_bytes":
			m.RSS = f
		case "go_goroutines":
			m.Goroutines = f
		}
	}
	return m, nil
}

// RedisCPU is the CPU time the Redis server has used (INFO cpu:
// used_cpu_user + used_cpu_sys, the main thread and every other), in
// microseconds. It is the server's own figure: with a Redis of the run's
// own it counts the run's commands and nobody else's.
func RedisCPU(ctx context.Context, rdb *redis.Client) (int64, error) {
	raw, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var us float64
	for _, l := range strings.Split(raw, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			us += f * 1e6
		}
	}
	return int64(us), nil
}
