package mail_test

import (
	"context"
	"errors"
	"flag"
	"net"
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
