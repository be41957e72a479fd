package notify

import (
	"strings"
	"testing"
)

// TestLoggedErrorsMaskAddresses: a delivery's error, as the log keeps it,
// names no address (the log outlives the recipient's account); an SMTP
// reply echoes it, in any of its spellings.
func TestLoggedErrorsMaskAddresses(t *testing.T) {
	err := `mail: permanent failure: recipient "bob.smith+tickets@mail.example.org": 550 5.1.1 <ann@rush.test>: Recipient address rejected (user ann@rush.test unknown)`
	got := addresses.ReplaceAllString(err, "<address>")
	if strings.Contains(got, "@") || strings.Count(got, "<address>") != 3 || !strings.Contains(got, "550 5.1.1") {
		t.Fatalf("masked: %s", got)
	}
}
