// Package mail sends the mesh's e-mails (password resets today, booking
// confirmations later) through an SMTP relay.
//
// Callers depend on the Sender interface only, so the transport can change
// (issue 5 routes mails through the notify service) without touching them.
// The SMTP implementation upgrades to TLS when the relay offers STARTTLS,
// authenticates when a username is configured, and retries temporary failures
// with backoff; package mailtest runs an in-process SMTP server for tests.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/config"
)

// Config locates the SMTP relay. It is the top-level "smtp" section of the
// configuration tree (flags smtp.*, env RUSH_SMTP_*).
type Config struct {
	// Addr is the relay's host:port.
	Addr string `yaml:"addr"`
	// From is the sender, as an RFC 5322 address ("Name <addr@host>").
	From string `yaml:"from"`
	// Username enables SMTP AUTH PLAIN when set.
	Username string `yaml:"username"`
	// Password is Username's password.
	Password config.Secret `yaml:"password"`
	// Timeout bounds one delivery attempt (dial, TLS, the whole dialogue).
	Timeout time.Duration `yaml:"timeout"`
	// DevMailbox keeps mails in the process (Mailbox) instead of sending
	// them: development only.
	DevMailbox bool `yaml:"dev_mailbox"`
}

// RegisterFlags registers smtp.* flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Addr, "smtp.addr", "127.0.0.1:1025", "SMTP relay host:port (mailpit listens on :1025)")
	f.StringVar(&c.From, "smtp.from", "Booking Rush <no-reply@bookingrush.local>", "From address of every e-mail")
	f.StringVar(&c.Username, "smtp.username", "", "SMTP AUTH user; empty: no AUTH")
	config.SecretVar(f, &c.Password, "smtp.password", "", "SMTP AUTH password")
	f.DurationVar(&c.Timeout, "smtp.timeout", 10*time.Second, "time allowed for one delivery attempt")
	f.BoolVar(&c.DevMailbox, "smtp.dev-mailbox", false, "development only: keep every mail in memory, readable at "+MailboxPath+" on the metrics port, instead of sending it (make run turns it on when RUSH_SMTP_ADDR is unset)")
}

// Validate checks the relay address and the From address.
func (c *Config) Validate() error {
	var problems []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Errorf("smtp.addr: %q is not host:port (%w)", c.Addr, err))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		problems = append(problems, fmt.Errorf("smtp.from: %q is not an e-mail address (%w)", c.From, err))
	}
	if c.Timeout < 100*time.Millisecond {
		problems = append(problems, fmt.Errorf("smtp.timeout: %v is shorter than 100ms", c.Timeout))
	}
	if c.Username == "" && c.Password != "" {
		problems = append(problems, errors.New("smtp.password: set without smtp.username"))
	}
	return errors.Join(problems...)
}

// Message is one e-mail to one recipient.
type Message struct {
	// To is the recipient's address ("a@b.c" or "Name <a@b.c>").
	To string
	// Subject is the subject line (UTF-8; encoded as needed).
	Subject string
	// Text is the plain-text body; every mail has one.
	Text string
	// HTML is an optional HTML alternative of Text.
	HTML string
	// Inline are images the HTML shows ("cid:<ContentID>"); they need HTML.
	Inline []Inline
	// Attachments are files the mail carries beside its body.
	Attachments []Attachment
}

// Attachment is a file carried in a mail ("event.ics").
type Attachment struct {
	// Name is its file name.
	Name string
	// Type is its media type ("text/calendar; charset=utf-8; method=PUBLISH").
	Type string
	// Data is its content.
	Data []byte
}

// Inline is an image carried in a mail and shown by its HTML part.
type Inline struct {
	// ContentID names it ("ticket-1@bookingrush"): the HTML's src is "cid:" + ContentID.
	ContentID string
	// Type is its media type ("image/png").
	Type string
	// Data is the image.
	Data []byte
}

// Sender delivers e-mails. Send returns once the relay accepted the message
// (or failed for good); it honours ctx's deadline.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Attempts is how many times SMTP.Send tries a delivery that fails
// temporarily (network errors, 4xx replies) before it gives up.
const Attempts = 3

// SMTP is the Sender that talks to Config.Addr.
type SMTP struct {
	cfg      Config
	from     *mail.Address
	tls      *tls.Config
	backoff  time.Duration
	attempts int
	log      *zap.Logger
}

var _ Sender = (*SMTP)(nil)

// Option tunes an SMTP sender.
type Option func(*SMTP)

// WithTLSConfig sets the TLS configuration used after STARTTLS (a private
// CA, or the test server's certificate). The server name defaults to the
// host of Config.Addr.
func WithTLSConfig(c *tls.Config) Option { return func(s *SMTP) { s.tls = c } }

// WithBackoff sets the wait before the second attempt; it doubles after
// each further failure. The default is 250ms.
func WithBackoff(d time.Duration) Option { return func(s *SMTP) { s.backoff = d } }

// WithAttempts sets how many times Send tries a temporarily failing
// delivery (default Attempts). 1 leaves retrying to the caller: the notify
// worker records every attempt and backs off between them itself.
func WithAttempts(n int) Option { return func(s *SMTP) { s.attempts = max(n, 1) } }

// NewSMTP returns a sender for cfg (which must have passed Validate).
func NewSMTP(cfg Config, log *zap.Logger, opts ...Option) (*SMTP, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp.from: %w", err)
	}
	s := &SMTP{cfg: cfg, from: from, backoff: 250 * time.Millisecond, attempts: Attempts, log: log}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// ErrPermanent marks a failure that retrying cannot fix: a 5xx reply, a bad
// recipient, a relay that requires what is not configured.
var ErrPermanent = errors.New("mail: permanent failure")

// Send delivers m, retrying temporary failures up to Attempts times (or
// WithAttempts) with exponential backoff.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("%w: recipient %q: %w", ErrPermanent, m.To, err)
	}
	raw, err := s.compose(to, m)
	if err != nil {
		return err
	}
	wait := s.backoff
	for attempt := 1; ; attempt++ {
		err = s.deliver(ctx, to.Address, raw)
		if err == nil || errors.Is(err, ErrPermanent) || attempt >= s.attempts {
			return err
		}
		s.log.Warn("smtp delivery failed, retrying", zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("mail: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// deliver runs one SMTP dialogue.
func (s *SMTP) deliver(ctx context.Context, rcpt string, raw []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mail: dial %s: %w", s.cfg.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return classify("greeting", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return classify("hello", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if s.tls != nil {
			tc = s.tls.Clone()
			if tc.ServerName == "" {
				tc.ServerName = host
			}
		}
		if err := c.StartTLS(tc); err != nil {
			return classify("starttls", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("%w: smtp.username is set but %s offers no AUTH", ErrPermanent, s.cfg.Addr)
		}
		// PlainAuth refuses to send the password over a connection that is
		// neither TLS nor to localhost.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password.Reveal(), host)); err != nil {
			return classify("auth", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classify("DATA", err)
	}
	// The relay has accepted the message; a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// classify marks 5xx replies and refused authentication as permanent.
func classify(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%w: %s: %w", ErrPermanent, step, err)
	}
	if err != nil && strings.Contains(err.Error(), "unencrypted connection") {
		return fmt.Errorf("%w: %s: %w", ErrPermanent, step, err)
	}
	return fmt.Errorf("mail: %s: %w", step, err)
}

// compose renders m as a MIME message: text/plain alone, or
// multipart/alternative with an HTML part (inside multipart/related with
// its inline images), inside multipart/mixed with its attachments, if any;
// bodies are quoted-printable, images and attachments base64.
func (s *SMTP) compose(to *mail.Address, m Message) ([]byte, error) {
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: subject contains a line break", ErrPermanent)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	_, domain, _ := strings.Cut(s.from.Address, "@")
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", time.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	h, body, err := entity(m)
	if err != nil {
		return nil, err
	}
	if len(m.Attachments) > 0 {
		mw := multipart.NewWriter(&b)
		header("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
		b.WriteString("\r\n")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write(body); err != nil {
			return nil, err
		}
		for _, a := range m.Attachments {
			if strings.ContainsAny(a.Name+a.Type, "\r\n\"") || a.Name == "" {
				return nil, fmt.Errorf("%w: attachment %q: bad name or type", ErrPermanent, a.Name)
			}
			pw, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {a.Type},
				"Content-Transfer-Encoding": {"base64"},
				"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
			})
			if err != nil {
				return nil, err
			}
			writeBase64(pw, a.Data)
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding"} {
		if v := h.Get(k); v != "" {
			header(k, v)
		}
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes(), nil
}

// entity renders m's body without its attachments: its headers and content.
func entity(m Message) (textproto.MIMEHeader, []byte, error) {
	var b bytes.Buffer
	if m.HTML == "" {
		if err := writeQP(&b, m.Text); err != nil {
			return nil, nil, err
		}
		return textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}}, b.Bytes(), nil
	}
	if len(m.Inline) == 0 {
		mw := multipart.NewWriter(&b)
		if err := writeAlternatives(mw, m); err != nil {
			return nil, nil, err
		}
		return textproto.MIMEHeader{"Content-Type": {mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})}}, b.Bytes(), nil
	}
	// multipart/related: the alternatives, then the images they show.
	rw := multipart.NewWriter(&b)
	var alt bytes.Buffer
	aw := multipart.NewWriter(&alt)
	if err := writeAlternatives(aw, m); err != nil {
		return nil, nil, err
	}
	pw, err := rw.CreatePart(textproto.MIMEHeader{"Content-Type": {mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": aw.Boundary()})}})
	if err != nil {
		return nil, nil, err
	}
	if _, err := pw.Write(alt.Bytes()); err != nil {
		return nil, nil, err
	}
	for _, in := range m.Inline {
		if strings.ContainsAny(in.ContentID+in.Type, "\r\n<>\"") {
			return nil, nil, fmt.Errorf("%w: inline image %q: bad content id or type", ErrPermanent, in.ContentID)
		}
		pw, err := rw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {in.Type},
			"Content-Transfer-Encoding": {"base64"},
			"Content-Id":                {"<" + in.ContentID + ">"},
			"Content-Disposition":       {"inline"},
		})
		if err != nil {
			return nil, nil, err
		}
		writeBase64(pw, in.Data)
	}
	if err := rw.Close(); err != nil {
		return nil, nil, err
	}
	return textproto.MIMEHeader{"Content-Type": {mime.FormatMediaType("multipart/related", map[string]string{"boundary": rw.Boundary(), "type": "multipart/alternative"})}}, b.Bytes(), nil
}

// writeBase64 writes data base64 in lines of 76 characters.
func writeBase64(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		fmt.Fprintf(w, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(w, "%s\r\n", enc)
}

// writeAlternatives writes m's text and HTML parts and closes mw.
func writeAlternatives(mw *multipart.Writer, m Message) error {
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return err
		}
		if err := writeQP(pw, part.body); err != nil {
			return err
		}
	}
	return mw.Close()
}

// writeQP writes s quoted-printable; the encoder turns LF and CRLF alike into
// CRLF line breaks, as SMTP wants.
func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}
