package mail

import (
	"context"
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// MailboxPath is where the process's metrics server shows the dev mailbox.
const MailboxPath = "/dev/mail"

// mailboxSize bounds what the dev mailbox keeps: the newest mails win.
const mailboxSize = 500

// Mailbox is the development Sender (smtp.dev-mailbox, which `make run`
// turns on when no relay is configured): it keeps the newest mails in memory
// and shows them at MailboxPath on the metrics port, so a password-reset
// link or a ticket is one click away instead of retried against a relay
// that is not there and dropped. Nothing leaves the process; never for
// production (the Helm chart refuses it).
type Mailbox struct {
	log   *zap.Logger
	mu    sync.Mutex
	mails []Kept // oldest first
	next  int
}

// Kept is one mail in the dev mailbox.
type Kept struct {
	ID int       `json:"id"`
	At time.Time `json:"at"`
	Message
}

// NewMailbox returns an empty dev mailbox.
func NewMailbox(log *zap.Logger) *Mailbox { return &Mailbox{log: log.Named("mailbox")} }

var _ Sender = (*Mailbox)(nil)

// Send keeps m; it never fails.
func (b *Mailbox) Send(_ context.Context, m Message) error {
	b.mu.Lock()
	b.next++
	k := Kept{ID: b.next, At: time.Now().UTC(), Message: m}
	b.mails = append(b.mails, k)
	if len(b.mails) > mailboxSize {
		b.mails = b.mails[len(b.mails)-mailboxSize:]
	}
	b.mu.Unlock()
	b.log.Info("mail kept in the dev mailbox", zap.String("to", m.To), zap.String("subject", m.Subject),
		zap.String("read_at", MailboxPath+"/"+strconv.Itoa(k.ID)))
	return nil
}

// Mails returns the kept mails, newest first.
func (b *Mailbox) Mails() []Kept {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Kept, len(b.mails))
	for i, k := range b.mails {
		out[len(b.mails)-1-i] = k
	}
	return out
}

func (b *Mailbox) find(id string) (Kept, bool) {
	n, err := strconv.Atoi(id)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range b.mails {
		if err == nil && k.ID == n {
			return k, true
		}
	}
	return Kept{}, false
}

// Handler serves the mailbox under MailboxPath: the list (HTML, or JSON for
// Accept: application/json), one mail (its text, and its HTML part in a
// sandboxed frame), a mail's raw HTML part and its attachments.
func (b *Mailbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MailboxPath, func(w http.ResponseWriter, r *http.Request) {
		mails := b.Mails()
		if r.Header.Get("Accept") == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(mails)
			return
		}
		render(w, listPage, mails)
	})
	mux.HandleFunc("GET "+MailboxPath+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		k, ok := b.find(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		render(w, mailPage, k)
	})
	mux.HandleFunc("GET "+MailboxPath+"/{id}/html", func(w http.ResponseWriter, r *http.Request) {
		k, ok := b.find(r.PathValue("id"))
		if !ok || k.HTML == "" {
			http.NotFound(w, r)
			return
		}
		// The mail's own HTML, shown as a mail client would: no script, no
		// request to anywhere but inline images.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(k.HTML))
	})
	mux.HandleFunc("GET "+MailboxPath+"/{id}/attachments/{n}", func(w http.ResponseWriter, r *http.Request) {
		k, ok := b.find(r.PathValue("id"))
		n, err := strconv.Atoi(r.PathValue("n"))
		if !ok || err != nil || n < 0 || n >= len(k.Attachments) {
			http.NotFound(w, r)
			return
		}
		a := k.Attachments[n]
		w.Header().Set("Content-Type", a.Type)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(a.Data)
	})
	return mux
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := t.Execute(w, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

const pageHead = `<!doctype html><html><head><meta charset="utf-8"><title>Booking Rush dev mailbox</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}pre{white-space:pre-wrap;background:#f4f4f4;padding:1em}iframe{width:100%;height:40em;border:1px solid #ccc}</style></head><body>`

var (
	listPage = template.Must(template.New("list").Parse(pageHead + `<h1>Dev mailbox</h1>
<p>Mails this process sent (smtp.dev-mailbox: nothing left it), newest first.</p>
<table><tr><th>#</th><th>received</th><th>to</th><th>subject</th></tr>
{{range .}}<tr><td>{{.ID}}</td><td>{{.At.Format "15:04:05"}}</td><td>{{.To}}</td><td><a href="mail/{{.ID}}">{{.Subject}}</a></td></tr>
{{else}}<tr><td colspan="4">No mail yet.</td></tr>{{end}}</table></body></html>`))
	mailPage = template.Must(template.New("mail").Parse(pageHead + `<p><a href="../mail">all mails</a></p>
<h1>{{.Subject}}</h1><p>To: {{.To}} · {{.At.Format "2006-01-02 15:04:05 MST"}}</p>
<pre>{{.Text}}</pre>{{with .Attachments}}<p>Attachments: {{range $i, $a := .}}<a href="{{$.ID}}/attachments/{{$i}}">{{$a.Name}}</a> {{end}}</p>{{end}}{{if .HTML}}<iframe sandbox src="{{.ID}}/html"></iframe>{{end}}</body></html>`))
)
