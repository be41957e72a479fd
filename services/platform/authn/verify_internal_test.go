package authn

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bookingrush/rush/services/platform/config"
)

func testKeys(t testing.TB) *Keys { return keysWith(t, "0123456789abcdef0123456789abcdef") }

func keysWith(t testing.TB, secret string) *Keys {
	t.Helper()
	k, err := NewKeys(Config{Secret: config.Secret(secret), Issuer: "test", AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVerifyHS256AgreesWithGolangJWT: the fast path accepts exactly what
// golang-jwt accepts among tokens of our header, with the same claims, and
// leaves every other token to the library.
func TestVerifyHS256AgreesWithGolangJWT(t *testing.T) {
	k := testKeys(t)
	now := time.Now()
	good, _, err := k.IssueAccess("u1", RoleUser, "t1", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	other, _, _ := keysWith(t, "another-secret-another-secret-00").IssueAccess("u1", RoleUser, "", now)
	extraHeader := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u2", "iss": "test", "typ": "access", "exp": now.Add(time.Minute).Unix()})
	extraHeader.Header["kid"] = "k1"
	kid, _ := extraHeader.SignedString(k.key)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "u1"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// flip changes the first character. Not the last: that of a 32-byte
	// signature also carries 2 padding bits, which golang-jwt's decoder
	// ignores, so "A" flipped to "B" there decoded to the same signature (the
	// test failed when a token's signature happened to end in "A").
	flip := func(s string) string {
		c := byte('A')
		if s[0] == 'A' {
			c = 'B'
		}
		return string(c) + s[1:]
	}
	cases := map[string]struct {
		token string
		fast  bool // the fast path decides it
	}{
		"ours":                {good, true},
		"payload tampered":    {parts[0] + "." + flip(parts[1]) + "." + parts[2], false},
		"signature tampered":  {parts[0] + "." + parts[1] + "." + flip(parts[2]), false},
		"another key":         {other, false},
		"another header":      {kid, false},
		"alg none":            {none, false},
		"four segments":       {good + ".x", false},
		"two segments":        {parts[0] + "." + parts[1], false},
		"padded signature":    {good + "=", false},
		"empty":               {"", false},
		"payload not json":    {signed(k, parts[0]+".bm90IGpzb24"), false},
		"payload json string": {signed(k, parts[0]+"."+"InN0cmluZyI"), false},
	}
	for name, tc := range cases {
		var fast, lib verified
		gotFast := k.verifyHS256(tc.token, &fast)
		_, libErr := k.parser.ParseWithClaims(tc.token, &lib, k.keyFunc)
		if gotFast != tc.fast {
			t.Errorf("%s: fast path decided %v, want %v", name, gotFast, tc.fast)
		}
		if gotFast && (libErr != nil || fast.Sub != lib.Sub || fast.Exp != lib.Exp || fast.Role != lib.Role || fast.Tid != lib.Tid || fast.Typ != lib.Typ) {
			t.Errorf("%s: fast path accepted %+v, golang-jwt: %+v %v", name, fast, lib, libErr)
		}
		// Verify's answer is golang-jwt's either way.
		_, err := k.verify(tc.token, now)
		if (err == nil) != (libErr == nil && (name == "ours" || name == "another header")) {
			t.Errorf("%s: Verify %v, golang-jwt %v", name, err, libErr)
		}
	}
}

// signed appends our key's signature to a header.payload.
func signed(k *Keys, s string) string {
	sig, err := jwt.SigningMethodHS256.Sign(s, k.key)
	if err != nil {
		panic(err)
	}
	return s + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// BenchmarkVerifyNew verifies never-seen tokens (a flash sale: each buyer's
// first call), with the fast path and with golang-jwt alone.
func BenchmarkVerifyNew(b *testing.B) {
	k := testKeys(b)
	now := time.Now()
	tokens := make([]string, 4096)
	for i := range tokens {
		tokens[i], _, _ = k.IssueAccess("user-"+strconv.Itoa(i), RoleUser, "", now)
	}
	b.Run("hs256", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var c verified
			if !k.verifyHS256(tokens[i%len(tokens)], &c) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("golang-jwt", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var c verified
			if _, err := k.parser.ParseWithClaims(tokens[i%len(tokens)], &c, k.keyFunc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
