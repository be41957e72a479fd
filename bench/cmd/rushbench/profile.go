package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// capture fetches a CPU profile of seconds from each process's
// /debug/pprof/profile (metrics.addr) into outDir/<label>-<name>.cpu.pprof.
// It returns at once; wait() returns the files written.
func capture(ctx context.Context, metrics map[string]string, names []string, seconds int, outDir, label string) (wait func() []string) {
	type res struct{ file string }
	ch := make(chan res, len(names))
	for _, n := range names {
		addr := metrics[n]
		go func() {
			file := filepath.Join(outDir, label+"-"+n+".cpu.pprof")
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds)
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				fmt.Fprintf(os.Stderr, "profile %s: %v\n", n, err)
				ch <- res{}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				fmt.Fprintf(os.Stderr, "profile %s: %v %s\n", n, err, resp.Status)
				ch <- res{}
				return
			}
			if err := os.WriteFile(file, b, 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "profile %s: %v\n", n, err)
				ch <- res{}
				return
			}
			ch <- res{file}
		}()
	}
	return func() []string {
		var files []string
		for range names {
			if r := <-ch; r.file != "" {
				files = append(files, r.file)
			}
		}
		sort.Strings(files)
		return files
	}
}

// category is a slice of the CPU. A sample goes to the first "whole"
// category (in list order) with a frame matching re anywhere on its stack:
// those own everything done on their behalf (a Redis call made by the rate
// limiter counts as rate limit; the persister's SQL as Kafka). Any other
// sample goes to the category of its leaf-most matching frame, so work is
// charged to the code that asked for it (a syscall under the Redis client is
// Redis; an allocation in protobuf is protobuf; what the metrics interceptor
// wraps is not metrics). The shares add up to 100%.
type category struct {
	name  string
	re    *regexp.Regexp
	whole bool
}

var categories = []category{
	{"GC (background mark, sweep)", regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge)$`), true},
	{"Kafka: the embedded broker (kfake; its own cluster in production)", regexp.MustCompile(`twmb/franz-go/pkg/kfake`), true},
	{"Kafka: relay and persister (sarama, stream reads, their SQL)", regexp.MustCompile(`IBM/sarama|twmb/franz-go|services/booking\.\(\*(Relay|Persister)\)|platform/kafka\.`), true},
	{"Postgres (pgx)", regexp.MustCompile(`jackc/pgx`), true},
	{"JWT verification (authn.Verify, cached)", regexp.MustCompile(`authn\.\(\*Keys\)\.Verify`), true},
	{"rate limit (edge limiter, its Redis call included)", regexp.MustCompile(`rush/edge\.\(\*limiter\)`), true},
	{"gzip on the RPC hop (compress/flate)", regexp.MustCompile(`^compress/|http2gzipReader`), false},
	{"Redis client (reserve script; syscalls included)", regexp.MustCompile(`github\.com/redis/go-redis`), false},
	{"protovalidate", regexp.MustCompile(`protovalidate|cel-go|cel\.dev`), false},
	{"metrics + tracing (prometheus, otel)", regexp.MustCompile(`prometheus/client_golang|go\.opentelemetry\.io/otel/(sdk|trace|attribute|metric|propagation)|rpcMetrics|edge\.\(\*httpMetrics\)`), false},
	{"logging (zap)", regexp.MustCompile(`go\.uber\.org/zap`), false},
	{"protobuf binary (marshal, unmarshal)", regexp.MustCompile(`google\.golang\.org/protobuf/(proto|internal/impl)\.`), false},
	{"JSON (vanguard transcoding, edge codec, protojson)", regexp.MustCompile(`connectrpc\.com/vanguard|protobuf/encoding/protojson|encoding/json|rush/edge\.\(\*codec\)|rush/edge\.append|rush/edge\.rewrite`), false},
	{"HTTP/1 public side (edge: read request, write response)", regexp.MustCompile(`net/http\.\(\*conn\)|net/http\.\(\*connReader\)|net/http\.\(\*response\)|net/http\.\(\*chunkWriter\)|net/http\.readRequest|net/textproto`), false},
	{"RPC hop (Connect + HTTP/2: the edge's client side, booking's server side)", regexp.MustCompile(`connectrpc\.com/connect|net/http\.\(\*http2|net/http\.http2|hpack|httputil\.\(\*ReverseProxy\)|net/http\.\(\*Transport\)|net/http\.\(\*persistConn\)`), false},
	{"booking service code (handler, service, engine: rest)", regexp.MustCompile(`rush/services/booking\.`), false},
	{"edge code (routing, headers, envelope, reserve route: rest)", regexp.MustCompile(`rush/edge\.`), false},
	{"net/http (rest)", regexp.MustCompile(`^net/http\.`), false},
	{"runtime scheduler, timers, netpoll", regexp.MustCompile(`^runtime\.(schedule|findRunnable|park_m|mcall|goexit0|stealWork|netpoll|sysmon|timerproc|mstart)`), false},
}

// classify returns the category index of a sample's frames (leaf first),
// or -1.
func classify(frames []string) int {
	for i, c := range categories {
		if c.whole && slices.ContainsFunc(frames, c.re.MatchString) {
			return i
		}
	}
	for _, f := range frames {
		for i, c := range categories {
			if !c.whole && c.re.MatchString(f) {
				return i
			}
		}
	}
	return -1
}

// Breakdown reads a CPU profile and returns the share of CPU of each
// category and how many cores the process used.
func Breakdown(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return "", err
	}
	vi := len(p.SampleType) - 1 // cpu nanoseconds
	var total, other int64
	sums := make([]int64, len(categories))
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		var frames []string
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil {
					frames = append(frames, l.Function.Name)
				}
			}
		}
		if i := classify(frames); i >= 0 {
			sums[i] += v
		} else {
			other += v
		}
	}
	var b strings.Builder
	wall := time.Duration(p.DurationNanos)
	fmt.Fprintf(&b, "%s: %.2fs CPU in %.1fs wall = %.2f cores\n", filepath.Base(file),
		time.Duration(total).Seconds(), wall.Seconds(), float64(total)/float64(max(wall, 1)))
	for i, c := range categories {
		if sums[i] == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %5.1f%%  %s\n", 100*float64(sums[i])/float64(max(total, 1)), c.name)
	}
	fmt.Fprintf(&b, "  %5.1f%%  other (allocation, runtime, ...)\n", 100*float64(other)/float64(max(total, 1)))
	return b.String(), nil
}

// top runs go tool pprof -top on file and returns its first lines.
func top(file string, lines int) string {
	var out bytes.Buffer
	cmd := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", file)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "go tool pprof: " + err.Error() + "\n" + out.String()
	}
	all := strings.Split(out.String(), "\n")
	if len(all) > lines {
		all = all[:lines]
	}
	return strings.Join(all, "\n")
}

// serveProfiles serves this process's pprof endpoints on a local port of
// its own and returns its address (capture reads them like a service's).
func serveProfiles() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(l, mux) }()
	return l.Addr().String(), nil
}
