package server

import (
	"net/http"

	"github.com/bookingrush/rush/services/platform/errs"
)

// IdempotencyKey reads the Idempotency-Key header of a call: "" when absent,
// a VALIDATION_ERROR naming the field when it is not 8 to 128 of
// [A-Za-z0-9_-] (the rule every idempotency_key field of the contracts has).
func IdempotencyKey(h http.Header) (string, error) {
	k := h.Get("Idempotency-Key")
	if k == "" || ValidIdempotencyKey(k) {
		return k, nil
	}
	return "", errs.New(errs.Validation, "Idempotency-Key must be 8 to 128 of [A-Za-z0-9_-]",
		"fields", []any{map[string]any{"field": "idempotency_key", "message": PatternMessages[idempotencyKeyPattern], "rule": ruleStringPattern}})
}

// idempotencyKeyPattern is the pattern of every idempotency_key field.
const idempotencyKeyPattern = `^[A-Za-z0-9_-]{8,128}$`

// ValidIdempotencyKey checks a key as the contracts' pattern does.
func ValidIdempotencyKey(k string) bool {
	if len(k) < 8 || len(k) > 128 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
