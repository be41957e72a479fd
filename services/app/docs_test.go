package app_test

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/topic"
)

// notSettings are RUSH_* names the docs use that are not settings of rush:
// the web app's own variables, and a test's knob.
var notSettings = []string{
	"RUSH_API_URL",          // the web app's edge (web/README.md)
	"RUSH_WEB_METRICS_ADDR", // the web app's metrics listener (web/README.md)
	"RUSH_RANDOM_DURATION",  // edge's TestRandomRequests
}

// TestDocumentedSettingsExist reads what operators read (the READMEs, the
// architecture, the chart's values) and fails on a RUSH_* variable or a
// setting name (`booking.hold-ttl`, `-smtp.dev-mailbox`) that is no flag of
// rush: a typo or a setting renamed since, which rush would only warn about
// (environment) or refuse (flags) when an operator copied it.
func TestDocumentedSettingsExist(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	fs := flag.NewFlagSet("rush", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	fs.String(config.FileFlag, "", "")
	fs.Bool("print-config", false, "")
	sections := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { sections[strings.SplitN(f.Name, ".", 2)[0]] = true })
	topics := []string{topic.BookingEvents, topic.PaymentSuccess, topic.PaymentFailed, topic.PaymentRefunded, topic.PaymentRefundFailed, topic.SagaDeadLetter}

	envName := regexp.MustCompile(`RUSH_[A-Z0-9_]*[A-Z0-9]\b`)
	setting := regexp.MustCompile("`-?([a-z]+(?:\\.[a-z][a-z0-9-]*)+)`")
	for file, dotted := range map[string]bool{
		"../../README.md":                                true,
		"../../docs/architecture.md":                     true,
		"../../edge/README.md":                           true,
		"../../web/README.md":                            false,
		"../../deploy/k8s/rush/README.md":                false, // dotted names there are values keys
		"../../deploy/k8s/rush/values.yaml":              false,
		"../../deploy/k8s/rush/values-production.yaml":   false,
		"../../deploy/k8s/rush/templates/NOTES.txt":      false,
		"../../deploy/k8s/rush/templates/configmap.yaml": false,
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, name := range envName.FindAllString(text, -1) {
			if slices.Contains(notSettings, name) {
				continue
			}
			if unknown := config.UnknownEnv(fs, []string{name + "=x"}); len(unknown) > 0 {
				t.Errorf("%s names %s, which is no setting of rush", file, name)
			}
		}
		if !dotted {
			continue
		}
		for _, m := range setting.FindAllStringSubmatch(text, -1) {
			name := m[1]
			if !sections[strings.SplitN(name, ".", 2)[0]] || slices.Contains(topics, name) {
				continue // a Kafka topic, a file, a Go identifier
			}
			if fs.Lookup(name) == nil {
				t.Errorf("%s names the setting %s, which is no flag of rush", file, name)
			}
		}
	}
}
