package authn

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// claimsCases are payloads decodeSimple must take (true) or leave to
// encoding/json (false).
var claimsCases = map[string]bool{
	`{}`: true,
	`{"iss":"rush","sub":"9f1c","exp":1796000000,"iat":1795999100,"jti":"a-b","role":"user","typ":"access"}`:   true,
	`{"sub":"d","typ":"device","role":"device","evs":["e1","e2"],"org":"o","exp":1,"nbf":-5,"ver":0,"tid":""}`: true,
	`{"evs":[]}`:                   true,
	`{"exp":-0}`:                   true,
	`{"":"x"}`:                     true,
	`{"x":12,"y":"z"}`:             true,
	`{"Sub":"x"}`:                  false, // encoding/json matches keys case-insensitively
	`{"ſub":"x"}`:                  false, // ... with Unicode folding
	`{"sub":"a","sub":"b"}`:        false, // duplicate
	`{"sub":"a\"b"}`:               false, // escape
	`{"sub":"é"}`:                  false, // not ASCII
	`{"sub":"tab	"}`:               false, // control character
	`{"sub": "x"}`:                 false, // whitespace
	` {"sub":"x"}`:                 false,
	`{"sub":"x"} `:                 false,
	`{"sub":"x"}x`:                 false,
	`{"sub":1}`:                    false, // a number for a string: encoding/json refuses
	`{"exp":"1"}`:                  false,
	`{"exp":1.0}`:                  false,
	`{"exp":1e3}`:                  false,
	`{"exp":01}`:                   false,
	`{"exp":-}`:                    false,
	`{"exp":9223372036854775808}`:  false, // overflows int64
	`{"exp":-9223372036854775808}`: true,
	`{"exp":null}`:                 false,
	`{"aud":["a"]}`:                false, // unknown keys: strings and integers only
	`{"x":true}`:                   false,
	`{"x":{}}`:                     false,
	`{"evs":["a",1]}`:              false,
	`{"evs":["a",]}`:               false,
	`{"evs":"a"}`:                  false,
	`{"sub":"x",}`:                 false,
	`{"sub":"x"`:                   false,
	`{"sub"}`:                      false,
	`{`:                            false,
	`[]`:                           false,
	``:                             false,
}

// TestDecodeSimpleAgreesWithEncodingJSON: what decodeSimple takes, it reads
// as json.Unmarshal does; what it leaves, decodeClaims gives to
// json.Unmarshal.
func TestDecodeSimpleAgreesWithEncodingJSON(t *testing.T) {
	for p, simple := range claimsCases {
		var got verified
		if ok := decodeSimple(p, &got); ok != simple {
			t.Errorf("%s: decodeSimple %v, want %v", p, ok, simple)
		}
		checkLikeJSON(t, p)
	}
}

// FuzzDecodeClaims: for any payload, decodeClaims answers what
// json.Unmarshal answers.
func FuzzDecodeClaims(f *testing.F) {
	for p := range claimsCases {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) { checkLikeJSON(t, p) })
}

func checkLikeJSON(t *testing.T, p string) {
	t.Helper()
	var got, want verified
	gotErr := decodeClaims([]byte(p), &got)
	wantErr := json.Unmarshal([]byte(p), &want)
	if (gotErr == nil) != (wantErr == nil) || gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("%q: decodeClaims %+v %v; json.Unmarshal %+v %v", p, got, gotErr, want, wantErr)
	}
}

// TestOurTokensTakeTheSimplePath: every kind of token Keys signs has the
// plain shape.
func TestOurTokensTakeTheSimplePath(t *testing.T) {
	k := testKeys(t)
	now := time.Now()
	access, _, _ := k.IssueAccessVersion("u1", RoleOrganizer, "t1", 7, now)
	service, _, _ := k.IssueService("saga", now, time.Minute)
	device, _ := k.IssueDevice("d1", "o1", []string{"e1", "e2"}, now, now.Add(time.Hour))
	for name, tok := range map[string]string{"access": access, "service": service, "device": device} {
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var c verified
		if !decodeSimple(string(payload), &c) {
			t.Errorf("%s token %s: not the plain shape", name, payload)
		}
		checkLikeJSON(t, string(payload))
	}
}
