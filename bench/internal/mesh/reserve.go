package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/platform/errs"

	"github.com/bookingrush/rush/bench/internal/load"
)

// Expect says which answers a scenario counts as correct, by HTTP status
// (0 for an RPC) and envelope or errs code ("" for success).
type Expect func(status int, code string) bool

// HoldsOnly accepts only a hold: a zone that never sells out.
func HoldsOnly(status int, code string) bool { return code == "" }

// HoldsOrSoldOut accepts a hold or "sold out" (a rush).
func HoldsOrSoldOut(status int, code string) bool {
	return code == "" || code == string(errs.InsufficientStock)
}

// DecidedOrShed accepts a hold, "sold out", or an overloaded edge's shed
// answer (503: ReserveHTTP tells shed answers, with Retry-After and reason
// "overloaded", from other 503s in the outcome).
func DecidedOrShed(status int, code string) bool {
	return HoldsOrSoldOut(status, code) || code == string(errs.ServiceUnavailable)
}

// Plan is who reserves what: request seq goes to user seq % len(Tokens) and
// zone seq % len(Zones).
type Plan struct {
	Event    *Event
	Tokens   []string
	Quantity int
	// KeyPrefix starts every Idempotency-Key (unique per run and scenario).
	KeyPrefix string
	Expect    Expect
	// Booked, when set, is told the booking id of every hold answered
	// (request seq): the checkout pays for them.
	Booked func(seq uint64, bookingID string)
}

func (p *Plan) pick(seq uint64) (token string, zone int, key string) {
	return p.Tokens[seq%uint64(len(p.Tokens))], int(seq % uint64(len(p.Event.Zones))), p.KeyPrefix + strconv.FormatUint(seq, 36)
}

// HTTPClient is a keep-alive HTTP/1.1 client with room for conns
// connections to one host.
func HTTPClient(conns int) *http.Client {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:           p,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// H2CClient is a cleartext HTTP/2 client (one multiplexed connection per
// host), as gRPC clients and the mesh use.
func H2CClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p, MaxIdleConnsPerHost: 8}}
}

// ReserveHTTP returns a Doer posting to base+/api/v1/bookings/reserve.
func ReserveHTTP(c *http.Client, base string, p *Plan) load.Doer {
	url := base + "/api/v1/bookings/reserve"
	bodies := make([][]byte, len(p.Event.Zones))
	for i, z := range p.Event.Zones {
		bodies[i], _ = json.Marshal(map[string]any{"show_id": p.Event.ShowID, "zone_id": z, "quantity": p.Quantity})
	}
	bearer := make([]string, len(p.Tokens))
	for i, t := range p.Tokens {
		bearer[i] = "Bearer " + t
	}
	return func(ctx context.Context, seq uint64) load.Answer {
		tokIdx := seq % uint64(len(bearer))
		_, zone, key := p.pick(seq)
		var data struct {
			ID       string `json:"id"`
			Quantity int    `json:"quantity"`
		}
		r := send(ctx, c, url, bearer[tokIdx], key, bodies[zone], &data)
		if r.failed != "" {
			return load.Answer{Outcome: r.failed, Zone: zone}
		}
		status, code := r.status, r.code
		a := load.Answer{Outcome: outcome(status, code), Zone: zone}
		if a.Shed = r.shed(); a.Shed {
			a.Outcome += " shed"
		} else if status == http.StatusServiceUnavailable && r.retryAfter == "" {
			a.Outcome += " without Retry-After"
		}
		a.Expected = p.Expect(status, code) && (status == http.StatusCreated) == (code == "")
		if status == http.StatusCreated {
			a.Seats = data.Quantity
			if p.Booked != nil {
				p.Booked(seq, data.ID)
			}
		}
		return a
	}
}

// reply is what send read of an answer.
type reply struct {
	// status and code are the HTTP status and the envelope's error code
	// ("" on success); failed, when there was no JSON answer to read, is
	// the outcome to count ("transport: ...", "502 non-JSON").
	status       int
	code, failed string
	// retryAfter and reason are the Retry-After header and the error's
	// details.reason.
	retryAfter, reason string
}

// shed reports an answer the edge's admission control gave: 503 at once,
// with Retry-After, reason "overloaded".
func (r reply) shed() bool {
	return r.status == http.StatusServiceUnavailable && r.retryAfter != "" && r.reason == "overloaded"
}

// send POSTs body to url with the bearer token, when key is not empty an
// Idempotency-Key, and headers (name, value pairs), and decodes the
// envelope: data (a pointer) receives its data.
func send(ctx context.Context, c *http.Client, url, bearer, key string, body []byte, data any, headers ...string) reply {
	headers = append([]string{"Authorization", bearer, "Content-Type", "application/json"}, headers...)
	if key != "" {
		headers = append(headers, "Idempotency-Key", key)
	}
	var a leanAnswer
	if t, ok := c.Transport.(*leanTransport); ok {
		var err error
		if a, err = t.post(ctx, url, body, headers...); err != nil {
			return reply{failed: "transport: " + shortErr(err)}
		}
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return reply{failed: "request: " + err.Error()}
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header[headers[i]] = []string{headers[i+1]}
		}
		resp, err := c.Do(req)
		if err != nil {
			return reply{failed: "transport: " + shortErr(err)}
		}
		a.body, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return reply{failed: "transport: " + shortErr(err)}
		}
		a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	env := struct {
		Data  any `json:"data"`
		Error struct {
			Code    string `json:"code"`
			Details struct {
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}{Data: data}
	if err := json.Unmarshal(a.body, &env); err != nil {
		return reply{failed: strconv.Itoa(a.status) + " non-JSON"}
	}
	return reply{status: a.status, code: env.Error.Code, retryAfter: a.retryAfter, reason: env.Error.Details.Reason}
}

// outcome names an answer in the tables: the status and the error code.
func outcome(status int, code string) string {
	if code == "" {
		return strconv.Itoa(status)
	}
	return strconv.Itoa(status) + " " + code
}

// ReserveRPC returns a Doer calling BookingService.Reserve directly over
// gRPC (h2c) at baseURL, rotating tokens as the HTTP one does.
func ReserveRPC(c *http.Client, baseURL string, p *Plan) load.Doer {
	client := bookingv1connect.NewBookingServiceClient(c, baseURL, connect.WithGRPC())
	bearer := make([]string, len(p.Tokens))
	for i, t := range p.Tokens {
		bearer[i] = "Bearer " + t
	}
	return func(ctx context.Context, seq uint64) load.Answer {
		_, zone, key := p.pick(seq)
		req := connect.NewRequest(&bookingv1.ReserveRequest{
			ShowId: p.Event.ShowID, ZoneId: p.Event.Zones[zone], Quantity: int32(p.Quantity), IdempotencyKey: key,
		})
		req.Header().Set("Authorization", bearer[seq%uint64(len(bearer))])
		resp, err := client.Reserve(ctx, req)
		if err != nil {
			var ce *connect.Error
			if !errors.As(err, &ce) {
				return load.Answer{Outcome: "transport: " + shortErr(err), Zone: zone}
			}
			code := string(errs.FromConnect(err).Code)
			return load.Answer{Outcome: ce.Code().String() + " " + code, Zone: zone, Expected: p.Expect(0, code)}
		}
		return load.Answer{Outcome: "ok", Expected: p.Expect(0, ""), Seats: int(resp.Msg.GetBooking().GetQuantity()), Zone: zone}
	}
}

// shortErr keeps error tables readable: the error without addresses.
func shortErr(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Sprintf("%s: %v", oe.Op, oe.Err)
	}
	return err.Error()
}
