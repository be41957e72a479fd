package audit

import (
	"strings"
	"unicode/utf8"
)

// Masked replaces the value of a sensitive field.
const Masked = "[masked]"

// secretParts are the key fragments (lower case, without '_', '-', '.')
// whose values are never stored: credentials and their hashes, tokens and
// secrets of any kind, card data.
var secretParts = []string{
	"password", "passwd", "secret", "token", "apikey", "authorization", "cookie",
	"privatekey", "signature", "cardnumber", "ccnumber", "cvv", "cvc", "iban",
}

// secretKeys are whole keys (same normalization) that are secret although
// too short to match as fragments.
var secretKeys = map[string]bool{
	"pass": true, "queuepass": true, "pin": true, "pan": true, "card": true, "hash": true, "otp": true,
}

// Mask rewrites v in place (recursively through objects and arrays):
// sensitive fields (by key name, see secretParts) become Masked, and
// e-mail fields (a key containing "email") keep only their first letters
// ("ana@example.com" becomes "a…@e…").
func Mask(v map[string]any) {
	for k, val := range v {
		switch kind := classify(k); {
		case kind == keySecret:
			if val != nil {
				v[k] = Masked
			}
		case kind == keyEmail:
			v[k] = maskEmails(val)
		default:
			maskNested(val)
		}
	}
}

func maskNested(v any) {
	switch t := v.(type) {
	case map[string]any:
		Mask(t)
	case []any:
		for _, e := range t {
			maskNested(e)
		}
	}
}

type keyKind int

const (
	keyPlain keyKind = iota
	keySecret
	keyEmail
)

func classify(key string) keyKind {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(key))
	if secretKeys[k] {
		return keySecret
	}
	for _, p := range secretParts {
		if strings.Contains(k, p) {
			return keySecret
		}
	}
	if strings.Contains(k, "email") {
		return keyEmail
	}
	return keyPlain
}

func maskEmails(v any) any {
	switch t := v.(type) {
	case string:
		return MaskEmail(t)
	case []any:
		for i, e := range t {
			t[i] = maskEmails(e)
		}
		return t
	case nil:
		return nil
	default:
		return Masked
	}
}

// MaskEmail keeps the first letter of an address's local part and domain:
// "ana@example.com" becomes "a…@e…". Anything that is not an address (a
// password typed into the e-mail field, say) becomes "…".
func MaskEmail(s string) string {
	local, domain, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok || local == "" || domain == "" {
		if s == "" {
			return ""
		}
		return "…"
	}
	return first(local) + "…@" + first(domain) + "…"
}

func first(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return ""
	}
	return s[:n]
}
