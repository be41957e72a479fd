package auth_test

import (
	"strings"
	"testing"
	"time"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/services/testkit"
)

// TestResetMailSaysItsLifetime: the reset mail tells how long its
// link works in words a person reads ("1 hour"), not in Go's duration
// syntax ("1h0m0s").
func TestResetMailSaysItsLifetime(t *testing.T) {
	f := start(t, "-auth.reset-ttl=90m")
	c := f.client(t, nil)
	email := uniqueEmail("ttl")
	register(t, c, email, "old password 1")
	must(c.ForgotPassword(ctx(t), testkit.Bearer("", &authv1.ForgotPasswordRequest{Email: email})))(t)
	m := f.smtp.WaitForSubject(t, email, "Reset", 10*time.Second)
	if strings.Contains(m.Text, "0m0s") || strings.Contains(m.Text, "1h30m") || !strings.Contains(m.Text, "within 1 hour 30 minutes") {
		t.Fatalf("the reset mail's lifetime: %q", m.Text)
	}
}
