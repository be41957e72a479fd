package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"net/mail"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/bookingref"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Request asks for one message.
type Request struct {
	// Kind is the template ("booking_confirmed").
	Kind string
	// Recipient is the address to mail.
	Recipient string
	// UserID is the account the message is for; empty for none.
	UserID string
	// Data fills the template.
	Data map[string]string
	// Key deduplicates: a second request with the same key sends nothing.
	Key string
}

// Service records messages and hands them to the delivery worker.
type Service struct {
	store     *Store
	worker    *Worker
	dir       Directory
	ticketKey []byte
	webURL    string // the web app's base URL (Config.WebURL)
	log       *zap.Logger
}

// NewService returns the service. The e-ticket key is notify.ticket-secret,
// else jwt.secret; with neither (a single dev process) it is random, so
// codes issued before a restart no longer verify — said once in the log.
func NewService(cfg Config, jwt authn.Config, store *Store, worker *Worker, dir Directory, log *zap.Logger) *Service {
	key := []byte(cfg.TicketSecret.Reveal())
	if len(key) == 0 {
		key = []byte(jwt.Secret.Reveal())
	}
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		log.Warn("notify: neither notify.ticket-secret nor jwt.secret is set; e-ticket codes use a random key and change on restart")
	}
	return &Service{store: store, worker: worker, dir: dir, ticketKey: key, webURL: cfg.WebURL, log: log.Named("notify")}
}

// Send records the message r asks for, rendered, as pending (or returns
// the message already recorded under r.Key) and wakes the worker. It does
// not wait for the relay: once recorded, the mail goes out with retries
// even if this process dies. A mail for an account notify was told to
// forget (ForgetUser) is neither recorded nor sent: an empty Notification.
func (s *Service) Send(ctx context.Context, r Request) (Notification, error) {
	if _, ok := templates[r.Kind]; !ok {
		return Notification{}, errs.Invalid("template", "template.known", "must be a known template")
	}
	if _, err := mail.ParseAddress(r.Recipient); err != nil {
		return Notification{}, errs.Invalid("recipient", "recipient.email", "must be an e-mail address")
	}
	data := maps.Clone(r.Data)
	if data == nil {
		data = map[string]string{}
	}
	if id := data["booking_id"]; id != "" {
		if data["reference"] == "" {
			data["reference"] = bookingref.Of(id)
		}
		if r.Kind == "booking_confirmed" {
			// Computed here, never taken from the caller: the code is ours.
			data["ticket_code"] = TicketCode(s.ticketKey, id)
			// The booking's page in the web app, where its tickets are.
			data["booking_url"] = webPage(s.webURL, "/bookings/"+id)
		}
	}
	if data["currency"] == "" {
		data["currency"] = "USD"
	}
	m, err := render(r.Kind, data)
	if err != nil {
		return Notification{}, err
	}
	rec := Notification{UserID: r.UserID, Kind: r.Kind, Recipient: r.Recipient, Subject: m.Subject, Body: m.Text, Data: data, Key: r.Key}
	n, created, err := s.store.Insert(ctx, rec)
	if errors.Is(err, errForgotten) && s.deletionUndone(ctx, r.UserID) {
		n, created, err = s.store.Insert(ctx, rec)
	}
	if errors.Is(err, errForgotten) {
		// A mail asked for (a message in flight, a saga's step) after its
		// account was deleted: nothing of that person is kept or sent.
		return Notification{}, nil
	}
	if err != nil {
		return Notification{}, err
	}
	if created {
		s.worker.Kick()
	}
	return n, nil
}

// List pages the caller's own notifications.
func (s *Service) List(ctx context.Context, p *authn.Principal, page, perPage int) ([]Notification, int, error) {
	if !isUUID(p.UserID) {
		return nil, 0, nil // a service token is no user and has no mail
	}
	return s.store.List(ctx, p.UserID, page, perPage)
}

// undoneAfter is how long after notify forgot a user an account that still
// exists means its deletion was undone: auth forgets the user inside the
// deletion's transaction, before it commits, and a transaction never lives
// that long.
const undoneAfter = time.Minute

// deletionUndone says whether notify forgot userID for a deletion that
// never committed (auth's commit failed after notify's ForgetUser): the
// account still exists at least undoneAfter later. It then forgets the
// forgetting, and the account's mails (a password reset, say) are sent
// again. Auth unreachable or the account gone: the user stays forgotten.
func (s *Service) deletionUndone(ctx context.Context, userID string) bool {
	if !s.store.forgottenBefore(ctx, userID, undoneAfter) {
		return false
	}
	if _, err := s.dir.User(ctx, userID); err != nil {
		return false
	}
	s.log.Warn("notify: a user forgotten for a deletion that did not happen is remembered again", zap.String("user", userID))
	return s.store.unforget(ctx, userID, undoneAfter) == nil
}
