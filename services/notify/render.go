package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base32"
	"fmt"
	htmltemplate "html/template"
	"maps"
	"strconv"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	notifyv1 "github.com/bookingrush/rush/gen/bookingrush/notify/v1"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/server"
)

// templateFS holds, per kind, <kind>.txt (the "subject" and "text"
// templates, text/template) and <kind>.html (the "title" and "content" of
// layout.html, html/template, so every value is escaped).
//
//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// kinds are the message kinds (notifications.kind): the Template enum
// names, lower case without the prefix, as on the JSON API.
var kinds = func() map[notifyv1.Template]string {
	m := map[notifyv1.Template]string{}
	for n := range notifyv1.Template_name {
		if t := notifyv1.Template(n); t != notifyv1.Template_TEMPLATE_UNSPECIFIED {
			m[t] = server.EnumWord(t)
		}
	}
	return m
}()

// Kind returns the kind name of t ("booking_confirmed"), or "" for an
// unknown or unspecified template.
func Kind(t notifyv1.Template) string { return kinds[t] }

// templateOf is the inverse of Kind.
func templateOf(kind string) notifyv1.Template {
	for t, k := range kinds {
		if k == kind {
			return t
		}
	}
	return notifyv1.Template_TEMPLATE_UNSPECIFIED
}

// required lists the data keys a kind cannot be rendered without.
var required = map[string][]string{
	"password_reset":    {"reset_url"},
	"password_changed":  {"forgot_url"},
	"booking_confirmed": {"booking_id", "ticket_code"},
	"booking_expired":   {"booking_id"},
	"booking_cancelled": {"booking_id"},
	"refund_issued":     {"refund_amount"},
	"refund_failed":     {"refund_amount"},
	"event_cancelled":   {"event_title"},
	"waitlist_offer":    {"booking_id", "checkout_url", "expires_at"},
	"waitlist_closed":   {"event_title", "quantity"},
}

// sensitive kinds carry a secret (the reset link): their data and body are
// erased once the message is sent or has failed, so the table never keeps
// a usable token longer than delivery needs.
var sensitive = map[string]bool{"password_reset": true}

type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// count says a count and its noun, singular for one: count("1", "seat") is
// "1 seat", count("2", "seat") "2 seats". An irregular plural, or a verb
// that agrees, is given: count("1", "seat was", "seats were") is "1 seat
// was". n is a count as a mail's data carries it (a decimal string); an
// empty or unreadable one says the plural without a number ("seats"). Every
// count a mail says goes through it (templates: {{count .quantity "seat"}}),
// never "seat(s)".
func count(n, one string, many ...string) string {
	plural := one + "s"
	if len(many) > 0 {
		plural = many[0]
	}
	q, err := strconv.Atoi(strings.TrimSpace(n))
	switch {
	case err != nil:
		return plural
	case q == 1:
		return "1 " + one
	}
	return strconv.Itoa(q) + " " + plural
}

// funcs are the functions the templates call.
var funcs = map[string]any{"count": count}

// templates are parsed once; a kind without its files fails at start-up
// (in tests), not when a mail is due.
var templates = func() map[string]kindTemplates {
	out := map[string]kindTemplates{}
	for _, kind := range kinds {
		t := texttemplate.Must(texttemplate.New(kind).Option("missingkey=zero").Funcs(funcs).ParseFS(templateFS, "templates/"+kind+".txt"))
		h := htmltemplate.Must(htmltemplate.New(kind).Option("missingkey=zero").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+kind+".html"))
		out[kind] = kindTemplates{text: t, html: h}
	}
	return out
}()

// subjectTitleBytes is the longest event title (in bytes) a subject quotes
// whole: with the longest rest of a subject it stays under 250 bytes.
const subjectTitleBytes = 150

// rendered is one message ready for the relay.
type rendered struct {
	Subject, Text, HTML string
}

// render fills kind's templates with data. Missing required data is a
// VALIDATION_ERROR naming the key.
func render(kind string, data map[string]string) (rendered, error) {
	tpl, ok := templates[kind]
	if !ok {
		return rendered{}, errs.Invalid("template", "template.known", "must be a known template", "template", kind)
	}
	for _, k := range required[kind] {
		if strings.TrimSpace(data[k]) == "" {
			return rendered{}, errs.Invalid("data."+k, "template.data", "is needed by the template")
		}
	}
	var subj, text, html bytes.Buffer
	// A subject names the event; a long title is shortened there so that
	// the rest of the subject (the booking reference) stays.
	subjData := data
	if t := data["event_title"]; len(t) > subjectTitleBytes {
		cut := subjectTitleBytes - len("…")
		for cut > 0 && !utf8.RuneStart(t[cut]) {
			cut--
		}
		subjData = maps.Clone(data)
		subjData["event_title"] = t[:cut] + "…"
	}
	if err := tpl.text.ExecuteTemplate(&subj, "subject", subjData); err != nil {
		return rendered{}, fmt.Errorf("render %s subject: %w", kind, err)
	}
	if err := tpl.text.ExecuteTemplate(&text, "text", data); err != nil {
		return rendered{}, fmt.Errorf("render %s text: %w", kind, err)
	}
	if err := tpl.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return rendered{}, fmt.Errorf("render %s html: %w", kind, err)
	}
	// Data may carry line breaks; a subject never does (header injection).
	subject := strings.Join(strings.Fields(subj.String()), " ")
	if len(subject) > 250 {
		// Cut on a character boundary: half a UTF-8 character is garbage.
		cut := 250
		for cut > 0 && !utf8.RuneStart(subject[cut]) {
			cut--
		}
		subject = subject[:cut]
	}
	return rendered{Subject: subject, Text: strings.TrimLeft(text.String(), "\n"), HTML: html.String()}, nil
}

// TicketCode is the e-ticket code of a booking: the first 60 bits of
// HMAC-SHA256(key, "e-ticket:v1:"+bookingID) in base32, grouped by four
// ("ABCD-EFGH-IJKL"). Deterministic, so a gate holding the key can check a
// code against the booking without a lookup, and short enough to read out.
func TicketCode(key []byte, bookingID string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("e-ticket:v1:" + bookingID))
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil))[:12]
	return s[:4] + "-" + s[4:8] + "-" + s[8:]
}
