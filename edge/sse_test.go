package edge_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	queuev1 "github.com/bookingrush/rush/gen/bookingrush/queue/v1"
	"github.com/bookingrush/rush/gen/bookingrush/queue/v1/queuev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// streamingQueue answers WatchQueueStatus with "waiting" then "admitted".
type streamingQueue struct {
	queuev1connect.UnimplementedQueueServiceHandler
}

func (streamingQueue) WatchQueueStatus(ctx context.Context, req *connect.Request[queuev1.WatchQueueStatusRequest], s *connect.ServerStream[queuev1.WatchQueueStatusResponse]) error {
	if _, err := authn.Require(ctx); err != nil {
		return errs.Connect(err)
	}
	for _, st := range []*queuev1.QueueStatus{
		{EventId: req.Msg.GetEventId(), Position: 2, Total: 5, Status: queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_WAITING},
		{EventId: req.Msg.GetEventId(), Status: queuev1.QueueEntryStatus_QUEUE_ENTRY_STATUS_ADMITTED, QueuePass: "pass-123"},
	} {
		if err := s.Send(&queuev1.WatchQueueStatusResponse{QueueStatus: st}); err != nil {
			return err
		}
	}
	return nil
}

func TestQueueEventsStreamAsServerSentEvents(t *testing.T) {
	t.Parallel()
	e := start(t)
	mux := http.NewServeMux()
	mux.Handle(queuev1connect.NewQueueServiceHandler(streamingQueue{}, e.stack.HandlerOptions()...))
	e.reg.Set("queue", startH2C(t, mux).URL)

	token, _, _ := e.keys.IssueAccess(uuid.NewString(), authn.RoleUser, "", time.Now())
	eventID := uuid.NewString()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/api/v1/queue/events?event_id="+eventID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("X-Request-Id") == "" {
		t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
	}
	var data []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	if len(data) != 2 || !strings.Contains(data[0], `"status":"waiting"`) || !strings.Contains(data[0], `"position":2`) ||
		!strings.Contains(data[1], `"status":"admitted"`) || !strings.Contains(data[1], `"queue_pass":"pass-123"`) ||
		!strings.HasPrefix(data[1], `{"success":true,"data":{`) {
		t.Fatalf("events %q", data)
	}

	// Anonymous callers and bad ids get ordinary error answers.
	if r := e.do("GET", "/api/v1/queue/events?event_id="+eventID, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous: %s", r)
	}
	if r := e.do("GET", "/api/v1/queue/events?event_id=nope", "", "Authorization", "Bearer "+token); r.status != http.StatusBadRequest || r.errorCode() != "VALIDATION_ERROR" {
		t.Fatalf("bad event id: %s", r)
	}
}
