package edge

import "testing"

// TestLoneSurrogate finds the \u escape that is half a surrogate pair, and
// nothing in whole pairs, other escapes or plain text.
func TestLoneSurrogate(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":"\ud83d\ude00"}`:    "", // a whole pair: 😀
		`{"a":"\u00e9\n\\udcff"}`: "", // an escaped backslash, then text
		`{"a":"x\udcff"}`:         `\udcff`,
		`{"a":"\ud800"}`:          `\ud800`,
		`{"a":"\ud800\u0041"}`:    `\ud800`,
		`{"a":"\ude00\ud83d"}`:    `\ude00`, // the halves in the wrong order
		`{"a":"\ud83d`:            `\ud83d`,
		`{"a":"\u12"}`:            "",
		`plain`:                   "",
	} {
		if got := loneSurrogate([]byte(body)); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}
