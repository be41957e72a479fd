package auth

import "testing"

// TestForgotLinkIsBesideTheResetPage: the password-changed mail's link to
// the forgot-password page sits beside the reset page, also when
// auth.reset-url ends in "/" (it resolved below it: a page that does not
// exist).
func TestForgotLinkIsBesideTheResetPage(t *testing.T) {
	for _, reset := range []string{"https://tickets.example/reset-password", "https://tickets.example/reset-password/",
		"https://tickets.example/account/reset-password"} {
		want := "https://tickets.example/forgot-password"
		if reset == "https://tickets.example/account/reset-password" {
			want = "https://tickets.example/account/forgot-password"
		}
		if got := forgotLink(reset); got != want {
			t.Errorf("forgotLink(%q) = %q, want %q", reset, got, want)
		}
	}
}
