// Package mailtest runs an in-process SMTP server (emersion/go-smtp) for
// tests: point smtp.addr at Server.Addr and read what arrives, parsed, from
// the inbox. Each test starts its own server on a free loopback port; it
// stops when the test ends.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one e-mail the server accepted.
type Message struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Header is the message's header.
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	// Text and HTML are the decoded bodies (HTML is empty for a plain mail).
	Text, HTML string
	// Attachments are the files it carries (Content-Disposition: attachment).
	Attachments []Attachment
	// TLS reports whether the message came over a TLS connection (STARTTLS).
	TLS bool
	// Raw is the message as received.
	Raw []byte
}

// Attachment is one file a message carries, decoded.
type Attachment struct {
	Name, Type string
	Data       []byte
}

// Server is a running test SMTP server.
type Server struct {
	// Addr is the server's host:port (127.0.0.1 and a free port).
	Addr string

	t        testing.TB
	user     string
	password string
	tlsCfg   *tls.Config
	client   *tls.Config

	mu       sync.Mutex
	msgs     []Message
	arrived  chan struct{} // closed and replaced on every arrival
	inbox    chan Message
	failures int // temporary failures still to answer to DATA
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and refuse mail from clients
// that did not authenticate as user/password.
func WithAuth(user, password string) Option {
	return func(s *Server) { s.user, s.password = user, password }
}

// WithTLS makes the server offer STARTTLS with a fresh self-signed
// certificate for 127.0.0.1; ClientTLS returns a client configuration that
// trusts it.
func WithTLS() Option {
	return func(s *Server) { s.tlsCfg, s.client = selfSigned(s.t) }
}

// WithTemporaryFailures makes the server answer the first n DATA commands
// with "451 try again later".
func WithTemporaryFailures(n int) Option {
	return func(s *Server) { s.failures = n }
}

// NewServer starts a server on 127.0.0.1 and stops it when t ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, arrived: make(chan struct{}), inbox: make(chan Message, 1000)}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mailtest.local"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = true // the client library decides what it risks on loopback
	srv.TLSConfig = s.tlsCfg
	logs := &testLogger{t: t}
	srv.ErrorLog = logs
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// Close misses the listener when Serve has not registered it yet.
		_ = l.Close()
		<-done
		logs.closed.Store(true)
	})
	return s
}

// ClientTLS is the TLS configuration a client needs to trust a WithTLS
// server (nil without WithTLS).
func (s *Server) ClientTLS() *tls.Config { return s.client }

// Inbox delivers every accepted message, in order of arrival (buffered; a
// test that never reads it loses nothing, Messages keeps them all).
func (s *Server) Inbox() <-chan Message { return s.inbox }

// Messages returns every message accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the messages accepted so far for recipient addr (compared
// case-insensitively).
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// WaitFor waits up to timeout for the first message to addr and fails the
// test when none comes.
func (s *Server) WaitFor(t testing.TB, addr string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		if ms := s.To(addr); len(ms) > 0 {
			return ms[0]
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("mailtest: no message to %s within %v (received %d others)", addr, timeout, len(s.Messages()))
			return Message{}
		}
	}
}

// WaitForSubject waits up to timeout for a message to addr whose subject
// contains subject and fails the test when none comes.
func (s *Server) WaitForSubject(t testing.TB, addr, subject string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		for _, m := range s.To(addr) {
			if strings.Contains(m.Subject, subject) {
				return m
			}
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("mailtest: no message to %s about %q within %v (%d to it)", addr, subject, timeout, len(s.To(addr)))
			return Message{}
		}
	}
}

func (s *Server) deliver(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
	select {
	case s.inbox <- m:
	default:
	}
}

func (s *Server) takeFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return true
	}
	return false
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (x *session) AuthMechanisms() []string {
	if x.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != x.s.user || password != x.s.password {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.user != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.takeFailure() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "malformed message: " + err.Error()}
	}
	m.From, m.To = x.from, append([]string(nil), x.to...)
	_, m.TLS = x.conn.TLSConnectionState()
	x.s.deliver(m)
	return nil
}

func (x *session) Reset() { x.from, x.to = "", nil }

func (x *session) Logout() error { return nil }

// parse decodes the header and the text/plain and text/html parts.
func parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: msg.Header, Raw: raw}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Message{}, err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Message{}, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		// The SMTP dialogue ends the body with a line break of its own.
		m.Text, err = body(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		m.Text = strings.TrimSuffix(m.Text, "\n")
		return m, err
	}
	return m, parts(&m, multipart.NewReader(msg.Body, params["boundary"]))
}

// parts reads the text and HTML parts of a multipart body, and of the
// multipart parts it nests (multipart/related around the alternatives).
func parts(m *Message, mr *multipart.Reader) error {
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		pt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(pt, "multipart/") {
			if err := parts(m, multipart.NewReader(p, params["boundary"])); err != nil {
				return err
			}
			continue
		}
		if disp, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition")); disp == "attachment" {
			var r io.Reader = p
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				r = base64.NewDecoder(base64.StdEncoding, p)
			}
			data, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			m.Attachments = append(m.Attachments, Attachment{Name: dp["filename"], Type: p.Header.Get("Content-Type"), Data: data})
			continue
		}
		text, err := body(p, p.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return err
		}
		switch pt {
		case "text/plain":
			m.Text = text
		case "text/html":
			m.HTML = text
		}
	}
}

func body(r io.Reader, encoding string) (string, error) {
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

// selfSigned makes a certificate for 127.0.0.1 and a client config trusting it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("mailtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailtest"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

// testLogger sends the server's error log to the test log until the server
// stopped (logging after the test ended would panic).
type testLogger struct {
	t      testing.TB
	closed atomic.Bool
}

func (l *testLogger) Printf(format string, v ...any) {
	if !l.closed.Load() {
		l.t.Logf("mailtest: "+format, v...)
	}
}

func (l *testLogger) Println(v ...any) {
	if !l.closed.Load() {
		l.t.Log(append([]any{"mailtest:"}, v...)...)
	}
}
