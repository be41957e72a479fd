package catalog

import (
	"crypto/rand"
	"strings"

	"github.com/google/uuid"
)

// maxBaseSlug leaves room for a collision suffix under the 255 characters of
// events.slug and the request patterns.
const maxBaseSlug = 200

// slugify derives a URL name from a title: lower-case ASCII letters and
// digits, runs of anything else as one dash. Titles with no ASCII letter or
// digit at all get fallback.
func slugify(title, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= maxBaseSlug {
				break
			}
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return fallback
	}
	return b.String()
}

// withSuffix appends a dash and six random lower-case letters or digits.
func withSuffix(slug string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	out := []byte(slug + "-")
	for _, c := range raw {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

// isUUID reports whether s is a UUID in its canonical form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
