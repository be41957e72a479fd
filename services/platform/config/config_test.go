package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookingrush/rush/services/platform/config"
)

type sub struct {
	Addr    string        `yaml:"addr"`
	HoldTTL time.Duration `yaml:"hold_ttl"`
}

type tree struct {
	Name    string             `yaml:"name"`
	Brokers config.StringSlice `yaml:"brokers"`
	Token   config.Secret      `yaml:"token"`
	Booking sub                `yaml:"booking"`
}

func (c *tree) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Name, "name", "default-name", "")
	config.StringSliceVar(f, &c.Brokers, "kafka.brokers", nil, "")
	config.SecretVar(f, &c.Token, "token", "", "")
	f.StringVar(&c.Booking.Addr, "booking.addr", ":9083", "")
	f.DurationVar(&c.Booking.HoldTTL, "booking.hold-ttl", 10*time.Minute, "")
}

func (c *tree) Validate() error {
	if c.Booking.HoldTTL < time.Second {
		return errors.New("booking.hold-ttl: too short")
	}
	return nil
}

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rush.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, args []string, vars map[string]string) (*tree, error) {
	t.Helper()
	var c tree
	err := config.Load(&c, flag.NewFlagSet("test", flag.ContinueOnError), args, env(vars))
	return &c, err
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "default-name" || c.Booking.HoldTTL != 10*time.Minute || c.Booking.Addr != ":9083" || len(c.Brokers) != 0 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestPrecedenceYAMLEnvFlag(t *testing.T) {
	file := writeYAML(t, "name: from-yaml\nbooking:\n  addr: ':1'\n  hold_ttl: 5m\nbrokers: [a:1, b:2]\n")

	c, err := load(t, []string{"-config.file", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "from-yaml" || c.Booking.HoldTTL != 5*time.Minute || strings.Join(c.Brokers, ",") != "a:1,b:2" {
		t.Fatalf("yaml must override defaults: %+v", c)
	}

	vars := map[string]string{"RUSH_NAME": "from-env", "RUSH_BOOKING_HOLD_TTL": "2m", "RUSH_KAFKA_BROKERS": "c:3"}
	c, err = load(t, []string{"-config.file=" + file}, vars)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "from-env" || c.Booking.HoldTTL != 2*time.Minute || c.Booking.Addr != ":1" || strings.Join(c.Brokers, ",") != "c:3" {
		t.Fatalf("env must override yaml, yaml must survive where env is silent: %+v", c)
	}

	c, err = load(t, []string{"-config.file", file, "-name=from-flag", "-booking.hold-ttl=1m"}, vars)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "from-flag" || c.Booking.HoldTTL != time.Minute || strings.Join(c.Brokers, ",") != "c:3" {
		t.Fatalf("flags must override env: %+v", c)
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	file := writeYAML(t, "name: via-env-file\n")
	c, err := load(t, nil, map[string]string{"RUSH_CONFIG_FILE": file})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "via-env-file" {
		t.Fatalf("RUSH_CONFIG_FILE not read: %+v", c)
	}
}

func TestErrorsAreClear(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		yaml string
		want string
	}{
		{name: "validation", args: []string{"-booking.hold-ttl=10ms"}, want: "invalid configuration: booking.hold-ttl: too short"},
		{name: "bad env value", env: map[string]string{"RUSH_BOOKING_HOLD_TTL": "soon"}, want: `env RUSH_BOOKING_HOLD_TTL="soon"`},
		{name: "unknown flag", args: []string{"-nope=1"}, want: "flag provided but not defined: -nope"},
		{name: "unknown yaml key", yaml: "booking:\n  adr: x\n", want: "field adr not found"},
		{name: "missing file", args: []string{"-config.file=/does/not/exist.yaml"}, want: "config file: open /does/not/exist.yaml"},
		{name: "stray argument", args: []string{"serve"}, want: `unexpected arguments: ["serve"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.yaml != "" {
				args = append(args, "-config.file", writeYAML(t, tc.yaml))
			}
			var c tree
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(new(strings.Builder))
			err := config.Load(&c, fs, args, env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDumpMasksSecrets(t *testing.T) {
	c, err := load(t, []string{"-token=hunter2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token.Reveal() != "hunter2" {
		t.Fatalf("secret value lost: %q", c.Token.Reveal())
	}
	out, err := config.Dump(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "token: '********'") {
		t.Fatalf("secret not masked:\n%s", out)
	}
	if !strings.Contains(string(out), "hold_ttl: 10m0s") {
		t.Fatalf("dump misses values:\n%s", out)
	}
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"booking.hold-ttl":   "RUSH_BOOKING_HOLD_TTL",
		"kafka.brokers":      "RUSH_KAFKA_BROKERS",
		"rate-limit.enabled": "RUSH_RATE_LIMIT_ENABLED",
	} {
		if got := config.EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

func TestURLRedactsOnlyThePassword(t *testing.T) {
	u := config.URL("postgres://app:s3cret@db:5432/rush?sslmode=disable")
	out, err := config.Dump(map[string]config.URL{"url": u})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "app:xxxxx@db:5432/rush") {
		t.Fatalf("dump = %s", out)
	}
	if u.Reveal() != "postgres://app:s3cret@db:5432/rush?sslmode=disable" {
		t.Fatal("Reveal lost the password")
	}
}

// TestUnknownEnv: a RUSH_* variable that names no setting is reported (a
// typo, a renamed setting), the known ones and the file's are not, nor what
// Kubernetes sets for the namespace's Services, nor other variables.
func TestUnknownEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Duration("rate-limit.sync", 0, "")
	fs.String("kafka.brokers", "", "")
	got := config.UnknownEnv(fs, []string{
		"RUSH_RATE_LIMIT_SYNC=1s", "RUSH_KAFKA_BROKERS=a:9092", "RUSH_CONFIG_FILE=/etc/rush.yaml",
		"RUSH_RATE_LIMIT_RESERVE_SYNC=1s", "RUSH_KAFKA_BROKER=b:9092", "PATH=/bin", "RUSHX=1",
		"RUSH_BOOKING_SERVICE_HOST=10.0.0.1", "RUSH_BOOKING_SERVICE_PORT=9083", "RUSH_BOOKING_SERVICE_PORT_GRPC=9083",
		"RUSH_BOOKING_PORT=tcp://10.0.0.1:9083", "RUSH_BOOKING_PORT_9083_TCP=tcp://10.0.0.1:9083",
		"RUSH_BOOKING_PORT_9083_TCP_PROTO=tcp", "RUSH_BOOKING_PORT_9083_TCP_PORT=9083", "RUSH_BOOKING_PORT_9083_TCP_ADDR=10.0.0.1",
	})
	want := []string{"RUSH_KAFKA_BROKER", "RUSH_RATE_LIMIT_RESERVE_SYNC"}
	if !slices.Equal(got, want) {
		t.Fatalf("unknown %v, want %v", got, want)
	}
}

func TestSensitive(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var c tree
	c.RegisterFlags(fs)
	var u config.URL
	config.URLVar(fs, &u, "postgres.url", "", "")
	var got []string
	fs.VisitAll(func(f *flag.Flag) {
		if config.Sensitive(f) {
			got = append(got, f.Name)
		}
	})
	if want := []string{"postgres.url", "token"}; !slices.Equal(got, want) {
		t.Errorf("sensitive flags %v, want %v", got, want)
	}
}
