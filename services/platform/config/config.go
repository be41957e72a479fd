// Package config loads the configuration tree of the rush binary.
//
// Every component owns a Config struct with yaml tags, a RegisterFlags method
// that registers its flags (and thereby its defaults) and a Validate method. The
// loader applies the sources in increasing precedence:
//
//	defaults (RegisterFlags) < YAML file (-config.file) < RUSH_* env < command-line flags
//
// Environment names are derived from flag names, so every key is settable all
// three ways without per-key code: "kafka.brokers" is RUSH_KAFKA_BROKERS and
// "booking.hold-ttl" is RUSH_BOOKING_HOLD_TTL.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Registerer is a configuration (sub)tree: it registers its flags with their
// defaults and validates itself once every source was applied.
type Registerer interface {
	RegisterFlags(f *flag.FlagSet)
	Validate() error
}

// EnvPrefix prefixes every environment variable the loader reads.
const EnvPrefix = "RUSH_"

// FileFlag is the flag (and RUSH_CONFIG_FILE env) naming the YAML file.
const FileFlag = "config.file"

// EnvName returns the environment variable that sets the flag named name.
func EnvName(name string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return EnvPrefix + strings.ToUpper(r.Replace(name))
}

// Load fills cfg from defaults, the YAML file, the environment (lookup, usually
// os.LookupEnv) and args, in that order of precedence, then validates it. fs
// must be fresh; extra flags that are not part of cfg (such as -target) may be
// registered on it before the call.
func Load(cfg Registerer, fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	var file string
	fs.StringVar(&file, FileFlag, "", "YAML configuration file; env and flags override its values")
	cfg.RegisterFlags(fs)

	// The file must be read before the flags are applied, so find it first.
	if v, ok := lookup(EnvName(FileFlag)); ok {
		file = v
	}
	if v, ok := scanFlag(args, FileFlag); ok {
		file = v
	}
	if file != "" {
		if err := loadYAML(cfg, file); err != nil {
			return err
		}
	}

	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == FileFlag {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("env %s=%q: %w", EnvName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(envErrs...); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	return nil
}

// UnknownEnv returns the RUSH_* names of environ (os.Environ's form,
// NAME=value) that set nothing: no flag of fs has that name, so a typo or a
// setting renamed since would otherwise be ignored without a word. Flags and
// the YAML file refuse unknown names outright; the environment also carries
// what Kubernetes writes for every Service of the namespace (a Service
// "rush-booking" gives RUSH_BOOKING_SERVICE_HOST, RUSH_BOOKING_PORT,
// RUSH_BOOKING_PORT_9083_TCP_ADDR...), so unknown names are reported, not
// refused, and those shapes are left out.
func UnknownEnv(fs *flag.FlagSet, environ []string) []string {
	known := map[string]bool{EnvName(FileFlag): true}
	fs.VisitAll(func(f *flag.Flag) { known[EnvName(f.Name)] = true })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && !serviceLink.MatchString(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// serviceLink matches the variables Kubernetes sets for a Service
// (enableServiceLinks): <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT[_<port>],
// <NAME>_PORT and <NAME>_PORT_<n>_<proto>[_PROTO|_PORT|_ADDR].
var serviceLink = regexp.MustCompile(`_SERVICE_HOST$|_SERVICE_PORT(_[A-Z0-9_]+)?$|_PORT$|_PORT_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?$`)

func loadYAML(cfg any, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", file, err)
	}
	return nil
}

// scanFlag finds -name=value, --name=value, -name value in args without
// parsing the rest (which needs the file's values first).
func scanFlag(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		t := strings.TrimLeft(a, "-")
		if len(t) == len(a) || len(a)-len(t) > 2 {
			continue
		}
		if v, ok := strings.CutPrefix(t, name+"="); ok {
			return v, true
		}
		if t == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// Dump renders cfg as YAML, with every Secret masked; it is what
// `rush -print-config` prints.
func Dump(cfg any) ([]byte, error) { return yaml.Marshal(cfg) }

// Secret is a string that never shows up in a dump or a log line.
type Secret string

// MarshalYAML masks a non-empty secret.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return "********", nil
}

// String masks the secret for %v and loggers.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "********"
}

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// SecretVar registers a flag for a Secret.
func SecretVar(f *flag.FlagSet, p *Secret, name, value, usage string) {
	*p = Secret(value)
	f.Var((*secretValue)(p), name, usage)
}

// Sensitive reports whether f holds a credential: a Secret, or a URL that
// may carry a password. Deployments keep these in a secret store, never in
// plain configuration (the Helm chart refuses them in its ConfigMap and in a
// component's env, deploy/k8s/chart_test.go lists them from here).
func Sensitive(f *flag.Flag) bool {
	switch f.Value.(type) {
	case *secretValue, *urlValue:
		return true
	}
	return false
}

type secretValue Secret

func (v *secretValue) Set(s string) error { *v = secretValue(s); return nil }
func (v *secretValue) String() string {
	if v == nil {
		return ""
	}
	return Secret(*v).String()
}

// StringSliceVar registers a comma-separated list flag.
func StringSliceVar(f *flag.FlagSet, p *StringSlice, name string, value []string, usage string) {
	*p = append(StringSlice(nil), value...)
	f.Var(p, name, usage)
}

// StringSlice is a list flag written as "a,b,c". From YAML it accepts either
// a list or the same comma-separated string, so env, flag and file agree.
type StringSlice []string

// String returns the comma-separated form.
func (s *StringSlice) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, ",")
}

// Set replaces the list with the comma-separated items of v, dropping blanks.
func (s *StringSlice) Set(v string) error {
	*s = splitList(v)
	return nil
}

// UnmarshalYAML accepts a YAML sequence or a comma-separated scalar. It uses
// the decoder-agnostic function form, so gopkg.in/yaml.v3, go.yaml.in/yaml/v3
// and yaml.v2 all call it.
func (s *StringSlice) UnmarshalYAML(unmarshal func(any) error) error {
	var items []string
	if err := unmarshal(&items); err != nil {
		var one string
		if err2 := unmarshal(&one); err2 != nil {
			return fmt.Errorf("want a list or a comma-separated string: %w", err)
		}
		items = []string{one}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, splitList(it)...)
	}
	*s = out
	return nil
}

// MarshalYAML writes the list as a YAML sequence (for -print-config).
func (s StringSlice) MarshalYAML() (any, error) {
	return []string(s), nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// URL is a connection URL whose password never shows up in a dump or a log
// line; the rest of it (host, database) does, because operators need it.
type URL string

// MarshalYAML redacts the password.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// String returns the URL with its password replaced by "xxxxx".
func (u URL) String() string {
	p, err := url.Parse(string(u))
	if err != nil {
		return "********"
	}
	return p.Redacted()
}

// Reveal returns the URL itself, password included.
func (u URL) Reveal() string { return string(u) }

// URLVar registers a flag for a URL.
func URLVar(f *flag.FlagSet, p *URL, name, value, usage string) {
	*p = URL(value)
	f.Var((*urlValue)(p), name, usage)
}

type urlValue URL

func (v *urlValue) Set(s string) error { *v = urlValue(s); return nil }
func (v *urlValue) String() string {
	if v == nil {
		return ""
	}
	return URL(*v).String()
}
