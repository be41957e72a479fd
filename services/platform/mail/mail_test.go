package mail_test

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/mail"
	"github.com/bookingrush/rush/services/platform/mail/mailtest"
)

func sender(t *testing.T, cfg mail.Config, opts ...mail.Option) *mail.SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Booking Rush <no-reply@bookingrush.local>"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSMTP(cfg, zap.NewNop(), append([]mail.Option{mail.WithBackoff(10 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendPlainAndHTML(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t)
	s := sender(t, mail.Config{Addr: srv.Addr})
	ctx := context.Background()

	long := strings.Repeat("0123456789", 12) + "?token=abc=="
	if err := s.Send(ctx, mail.Message{To: "Ana <ana@example.com>", Subject: "Réinitialiser ✓", Text: "line one\nline two " + long}); err != nil {
		t.Fatal(err)
	}
	m := <-srv.Inbox()
	if m.From != "no-reply@bookingrush.local" || len(m.To) != 1 || m.To[0] != "ana@example.com" {
		t.Fatalf("envelope from=%q to=%v", m.From, m.To)
	}
	if m.Subject != "Réinitialiser ✓" {
		t.Errorf("subject %q", m.Subject)
	}
	if m.Text != "line one\nline two "+long || m.HTML != "" {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}
	if m.Header.Get("Message-ID") == "" || m.Header.Get("Date") == "" || !strings.Contains(m.Header.Get("From"), "Booking Rush") {
		t.Errorf("headers %v", m.Header)
	}
	if m.TLS {
		t.Error("TLS reported on a server without STARTTLS")
	}

	if err := s.Send(ctx, mail.Message{To: "bob@example.com", Subject: "Hi", Text: "plain", HTML: "<p>html</p>"}); err != nil {
		t.Fatal(err)
	}
	m = <-srv.Inbox()
	if m.Text != "plain" || m.HTML != "<p>html</p>" {
		t.Errorf("alternative parts text %q html %q", m.Text, m.HTML)
	}
}

func TestStartTLSWhenOffered(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t, mailtest.WithTLS(), mailtest.WithAuth("rush", "s3cret"))
	s := sender(t, mail.Config{Addr: srv.Addr, Username: "rush", Password: "s3cret"}, mail.WithTLSConfig(srv.ClientTLS()))
	if err := s.Send(context.Background(), mail.Message{To: "ana@example.com", Subject: "x", Text: "y"}); err != nil {
		t.Fatal(err)
	}
	if m := <-srv.Inbox(); !m.TLS {
		t.Fatal("message did not travel over TLS although the server offered STARTTLS")
	}

	// A certificate the client does not trust is a failure, not a fallback
	// to plain text.
	untrusting := sender(t, mail.Config{Addr: srv.Addr, Username: "rush", Password: "s3cret"})
	if err := untrusting.Send(context.Background(), mail.Message{To: "ana@example.com", Subject: "x", Text: "y"}); err == nil {
		t.Fatal("sent over an untrusted certificate")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t, mailtest.WithAuth("rush", "s3cret"))
	ctx := context.Background()
	msg := mail.Message{To: "ana@example.com", Subject: "x", Text: "y"}

	if err := sender(t, mail.Config{Addr: srv.Addr}).Send(ctx, msg); !errors.Is(err, mail.ErrPermanent) {
		t.Fatalf("without credentials: %v, want a permanent error", err)
	}
	if err := sender(t, mail.Config{Addr: srv.Addr, Username: "rush", Password: "wrong"}).Send(ctx, msg); !errors.Is(err, mail.ErrPermanent) {
		t.Fatalf("wrong password: %v, want a permanent error", err)
	}
	if err := sender(t, mail.Config{Addr: srv.Addr, Username: "rush", Password: "s3cret"}).Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}

	plain := mailtest.NewServer(t)
	if err := sender(t, mail.Config{Addr: plain.Addr, Username: "rush", Password: "s3cret"}).Send(ctx, msg); !errors.Is(err, mail.ErrPermanent) {
		t.Fatalf("username configured but no AUTH offered: %v", err)
	}
}

func TestRetriesTemporaryFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := mail.Message{To: "ana@example.com", Subject: "x", Text: "y"}

	srv := mailtest.NewServer(t, mailtest.WithTemporaryFailures(mail.Attempts-1))
	if err := sender(t, mail.Config{Addr: srv.Addr}).Send(ctx, msg); err != nil {
		t.Fatalf("after %d temporary failures: %v", mail.Attempts-1, err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}

	down := mailtest.NewServer(t, mailtest.WithTemporaryFailures(mail.Attempts))
	err := sender(t, mail.Config{Addr: down.Addr}).Send(ctx, msg)
	if err == nil || errors.Is(err, mail.ErrPermanent) || !strings.Contains(err.Error(), "451") {
		t.Fatalf("after %d temporary failures: %v, want the 451", mail.Attempts, err)
	}
	if n := len(down.Messages()); n != 0 {
		t.Fatalf("%d messages, want 0", n)
	}
}

func TestUnreachableRelayHonoursContext(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s := sender(t, mail.Config{Addr: addr}, mail.WithBackoff(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, mail.Message{To: "ana@example.com", Subject: "x", Text: "y"})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Send took %v past its context", d)
	}
}

// Attachments go beside the body (multipart/mixed), whatever its shape.
func TestAttachments(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t)
	s := sender(t, mail.Config{Addr: srv.Addr})
	ics := []byte("BEGIN:VCALENDAR\r\n" + strings.Repeat("X-LONG:0123456789\r\n", 20) + "END:VCALENDAR\r\n")
	att := []mail.Attachment{{Name: "event.ics", Type: "text/calendar; charset=utf-8; method=PUBLISH", Data: ics}}
	for _, m := range []mail.Message{
		{To: "ana@example.com", Subject: "plain", Text: "plain", Attachments: att},
		{To: "ana@example.com", Subject: "alternative", Text: "plain", HTML: "<p>html</p>", Attachments: att},
		{To: "ana@example.com", Subject: "related", Text: "plain", HTML: `<p><img src="cid:i@x"></p>`, Attachments: att,
			Inline: []mail.Inline{{ContentID: "i@x", Type: "image/png", Data: []byte("png")}}},
	} {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := <-srv.Inbox()
		if got.Text != "plain" || (m.HTML != "" && got.HTML != m.HTML) || len(got.Attachments) != 1 {
			t.Fatalf("%s: text %q html %q attachments %d", m.Subject, got.Text, got.HTML, len(got.Attachments))
		}
		if a := got.Attachments[0]; a.Name != "event.ics" || !strings.HasPrefix(a.Type, "text/calendar") || string(a.Data) != string(ics) {
			t.Fatalf("%s: attachment %s %s %q", m.Subject, a.Name, a.Type, a.Data)
		}
		if !strings.HasPrefix(got.Header.Get("Content-Type"), "multipart/mixed;") {
			t.Fatalf("%s: Content-Type %s", m.Subject, got.Header.Get("Content-Type"))
		}
	}
	bad := mail.Message{To: "ana@example.com", Subject: "x", Text: "y", Attachments: []mail.Attachment{{Name: "a\r\nBcc: eve@example.com", Type: "text/plain"}}}
	if err := s.Send(context.Background(), bad); !errors.Is(err, mail.ErrPermanent) {
		t.Fatalf("an attachment name with a line break: %v", err)
	}
}

func TestBadMessagesAreRejected(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t)
	s := sender(t, mail.Config{Addr: srv.Addr})
	for _, m := range []mail.Message{
		{To: "not an address", Subject: "x", Text: "y"},
		{To: "ana@example.com\r\nBcc: eve@example.com", Subject: "x", Text: "y"},
		{To: "ana@example.com", Subject: "x\r\nBcc: eve@example.com", Text: "y"},
	} {
		if err := s.Send(context.Background(), m); !errors.Is(err, mail.ErrPermanent) {
			t.Errorf("%+v: %v, want a permanent error", m, err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	var cfg mail.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	env := map[string]string{"RUSH_SMTP_ADDR": "mail.example.com:587", "RUSH_SMTP_PASSWORD": "pw", "RUSH_SMTP_USERNAME": "u"}
	if err := config.Load(&cfg, fs, nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "mail.example.com:587" || cfg.From != "Booking Rush <no-reply@bookingrush.local>" || cfg.Password.Reveal() != "pw" || cfg.Timeout != 10*time.Second {
		t.Fatalf("loaded %+v", cfg)
	}
	if d, _ := config.Dump(cfg); strings.Contains(string(d), "pw") {
		t.Fatalf("dump shows the password: %s", d)
	}
	bad := mail.Config{Addr: "nohost", From: "nobody", Timeout: time.Millisecond, Password: "x"}
	err := bad.Validate()
	for _, want := range []string{"smtp.addr", "smtp.from", "smtp.timeout", "smtp.password"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

// The dev mailbox lists a mail's attachments and serves each.
func TestMailboxAttachments(t *testing.T) {
	t.Parallel()
	b := mail.NewMailbox(zap.NewNop())
	ics := "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
	if err := b.Send(context.Background(), mail.Message{To: "ana@example.com", Subject: "s", Text: "t",
		Attachments: []mail.Attachment{{Name: "event.ics", Type: "text/calendar; charset=utf-8", Data: []byte(ics)}}}); err != nil {
		t.Fatal(err)
	}
	h := b.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	if w := get(mail.MailboxPath + "/1"); !strings.Contains(w.Body.String(), `href="1/attachments/0">event.ics</a>`) {
		t.Errorf("the mail's page does not link its attachment:\n%s", w.Body)
	}
	w := get(mail.MailboxPath + "/1/attachments/0")
	if w.Code != 200 || w.Body.String() != ics || w.Header().Get("Content-Type") != "text/calendar; charset=utf-8" ||
		w.Header().Get("Content-Disposition") != "attachment; filename=event.ics" {
		t.Errorf("attachment: %d %v %q", w.Code, w.Header(), w.Body)
	}
	for _, p := range []string{"/1/attachments/1", "/1/attachments/-1", "/1/attachments/x", "/2/attachments/0"} {
		if w := get(mail.MailboxPath + p); w.Code != 404 {
			t.Errorf("GET %s: %d", p, w.Code)
		}
	}
}
