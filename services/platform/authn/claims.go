package authn

import (
	"encoding/json"
	"strconv"
)

// decodeClaims decodes a verified token's payload into c (zero), as
// json.Unmarshal would. The payloads Keys signs have one plain shape
// (encoding/json's output of claims: no spaces, no escapes, ASCII,
// integers), which decodeSimple reads without reflection; any other payload
// goes to json.Unmarshal. encoding/json was two thirds of a never-seen
// token's verification, in the edge and again in booking (bench/RESULTS.md,
// session 20), and a flash sale's first reserves are all never-seen tokens.
func decodeClaims(raw []byte, c *verified) error {
	var s verified
	if decodeSimple(string(raw), &s) {
		*c = s
		return nil
	}
	return json.Unmarshal(raw, c)
}

// Bits of the claims decodeSimple has set: a key seen twice is left to
// encoding/json.
const (
	seenSub = 1 << iota
	seenIss
	seenExp
	seenNbf
	seenRole
	seenTid
	seenTyp
	seenVer
	seenEvs
	seenOrg
)

// decodeSimple reads p into c when p is a JSON object of the plain shape
// and reports whether it did; c is then what json.Unmarshal makes of p.
// It takes only what it can decide exactly as encoding/json does, and
// reports false for anything else, untouched or not:
//   - keys of lowercase ASCII letters, digits and '_' (so a key that is not
//     one of verified's is no case-insensitive match of one either), each
//     at most once;
//   - string values of printable ASCII without '"' or '\' (no escapes, no
//     UTF-8 to check);
//   - integers in JSON's grammar that fit an int64, for the int64 fields;
//   - arrays of such strings, for evs;
//   - unknown keys with a string or integer value (skipped);
//   - no whitespace and nothing after the object.
func decodeSimple(p string, c *verified) bool {
	if len(p) < 2 || p[0] != '{' {
		return false
	}
	i := 1
	if p[i] == '}' {
		return i+1 == len(p)
	}
	var seen int
	for {
		key, next, ok := plainString(p, i)
		if !ok || !plainKey(key) || next >= len(p) || p[next] != ':' {
			return false
		}
		i = next + 1
		bit, str, num := claimField(c, key)
		if bit != 0 {
			if seen&bit != 0 {
				return false
			}
			seen |= bit
		}
		switch {
		case str != nil:
			*str, i, ok = plainString(p, i)
		case num != nil:
			*num, i, ok = plainInt(p, i)
		case bit == seenEvs:
			c.Evs, i, ok = plainStrings(p, i)
		default: // unknown: a string or an integer, skipped
			if i < len(p) && p[i] == '"' {
				_, i, ok = plainString(p, i)
			} else {
				_, i, ok = plainInt(p, i)
			}
		}
		if !ok || i >= len(p) {
			return false
		}
		switch p[i] {
		case ',':
			i++
		case '}':
			return i+1 == len(p)
		default:
			return false
		}
	}
}

// claimField is the field of c named key: its bit, and where its value
// goes (a string, an int64, or neither: evs, or no field).
func claimField(c *verified, key string) (bit int, str *string, num *int64) {
	switch key {
	case "sub":
		return seenSub, &c.Sub, nil
	case "iss":
		return seenIss, &c.Iss, nil
	case "exp":
		return seenExp, nil, &c.Exp
	case "nbf":
		return seenNbf, nil, &c.Nbf
	case "role":
		return seenRole, &c.Role, nil
	case "tid":
		return seenTid, &c.Tid, nil
	case "typ":
		return seenTyp, &c.Typ, nil
	case "ver":
		return seenVer, nil, &c.Ver
	case "evs":
		return seenEvs, nil, nil
	case "org":
		return seenOrg, &c.Org, nil
	}
	return 0, nil, nil
}

// plainKey: lowercase ASCII letters, digits and '_'.
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if b := k[i]; (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}

// plainString reads the string starting at p[i] ('"'): printable ASCII
// without '\'. It returns the string and the index after its closing '"'.
func plainString(p string, i int) (string, int, bool) {
	if i >= len(p) || p[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(p); j++ {
		switch b := p[j]; {
		case b == '"':
			return p[i+1 : j], j + 1, true
		case b < 0x20 || b > 0x7e || b == '\\':
			return "", i, false
		}
	}
	return "", i, false
}

// plainInt reads the integer starting at p[i]: '-'? ('0' | [1-9][0-9]*),
// not followed by a fraction or exponent, within int64.
func plainInt(p string, i int) (int64, int, bool) {
	j := i
	if j < len(p) && p[j] == '-' {
		j++
	}
	start := j
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	if j == start || p[start] == '0' && j-start > 1 || j < len(p) && (p[j] == '.' || p[j] == 'e' || p[j] == 'E') {
		return 0, i, false
	}
	n, err := strconv.ParseInt(p[i:j], 10, 64)
	return n, j, err == nil
}

// plainStrings reads an array of plain strings starting at p[i] ('[').
func plainStrings(p string, i int) ([]string, int, bool) {
	if i >= len(p) || p[i] != '[' {
		return nil, i, false
	}
	i++
	out := []string{}
	if i < len(p) && p[i] == ']' {
		return out, i + 1, true
	}
	for {
		s, next, ok := plainString(p, i)
		if !ok || next >= len(p) {
			return nil, i, false
		}
		out = append(out, s)
		switch p[next] {
		case ',':
			i = next + 1
		case ']':
			return out, next + 1, true
		default:
			return nil, i, false
		}
	}
}
