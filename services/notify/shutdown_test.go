package notify_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/gen/bookingrush/notify/v1/notifyv1connect"
	"github.com/bookingrush/rush/services/platform/pgtest"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// slowQuitRelay is a minimal SMTP relay that accepts every message (250
// after DATA) and counts it; while hold is set it answers QUIT only once
// released (a relay slow to close the session: the mail is accepted).
type slowQuitRelay struct {
	Addr     string
	accepted atomic.Int32
	hold     atomic.Bool
	quitting chan struct{} // a QUIT is being held
	release  chan struct{}
	once     sync.Once
}

func newSlowQuitRelay(t *testing.T) *slowQuitRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &slowQuitRelay{Addr: ln.Addr().String(), quitting: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(func() {
		r.once.Do(func() { close(r.release) })
		_ = ln.Close()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *slowQuitRelay) serve(c net.Conn) {
	defer c.Close()
	in := bufio.NewReader(c)
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 relay ready")
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 relay")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"), strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			say("250 ok")
		case cmd == "DATA":
			say("354 go ahead")
			for {
				l, err := in.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			r.accepted.Add(1)
			say("250 queued as 1")
		case cmd == "QUIT":
			if r.hold.Load() {
				r.quitting <- struct{}{}
				<-r.release
			}
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

// TestMailAcceptedDuringShutdownIsNotSentAgain: the notify process is
// stopped (SIGTERM of a deploy) while the relay has accepted a mail (250
// after DATA) and the worker waits for the answer to QUIT. The relay has
// the mail; Send returns nil. The worker then sees its context cancelled,
// throws the attempt away ("stopping: the attempt does not count") and
// rolls back, so the row stays pending and the next process mails it
// again: the buyer gets the mail twice on every deploy that catches one in
// flight.
func TestMailAcceptedDuringShutdownIsNotSentAgain(t *testing.T) {
	t.Parallel()
	relay := newSlowQuitRelay(t)
	relay.hold.Store(true)
	dsn := pgtest.Migrated(t)
	args := []string{"-postgres.migrate-on-start=false", "-target=notify", "-smtp.addr=" + relay.Addr,
		"-notify.poll=100ms", "-notify.retry-backoff=100ms"}
	first := testkit.StartApp(t, testkit.Config(t, dsn, args...))
	c := notifyv1connect.NewNotifyServiceClient(server.NewClient(), first.URL(t, "notify"))
	res, err := c.SendNotification(context.Background(), testkit.AsService(t, first.Mesh, "auth", &notifyv1.SendNotificationRequest{
		Template: notifyv1.Template_TEMPLATE_WELCOME, Recipient: "once@example.com", IdempotencyKey: "welcome-" + uuid.NewString(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetNotification().GetId()
	select {
	case <-relay.quitting:
	case <-time.After(20 * time.Second):
		t.Fatal("the worker never sent the mail")
	}
	if n := relay.accepted.Load(); n != 1 {
		t.Fatalf("relay accepted %d mails, want 1", n)
	}
	first.Stop(t) // graceful: the worker's context is cancelled mid-QUIT
	relay.hold.Store(false)
	relay.once.Do(func() { close(relay.release) })

	second := testkit.StartApp(t, testkit.Config(t, dsn, args...))
	var status string
	testkit.Eventually(t, 10*time.Second, "mail settled", func() bool {
		_ = second.Pool.QueryRow(context.Background(), `SELECT status FROM notifications WHERE id = $1`, id).Scan(&status)
		return status != "pending"
	})
	time.Sleep(500 * time.Millisecond)
	if n := relay.accepted.Load(); n != 1 {
		t.Fatalf("the relay accepted the mail %d times (status %q): a mail accepted before the shutdown was sent again by the next process", n, status)
	}
}
