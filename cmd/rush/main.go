// Command rush is the whole Booking Rush mesh in one binary. -target selects
// the components this process runs (all of them by default, one per
// Deployment in Kubernetes); `rush migrate` applies the database schema.
//
//	rush                          # every component, one process (dev, CI)
//	rush -target=booking          # one component
//	rush -target=edge,auth        # several
//	rush migrate                  # apply schema/ migrations and exit
//	rush migrate -status          # list applied and pending migrations (exit 3 while some are pending)
//	rush probe URL...             # GET each URL, exit 1 unless all answer 200 (helm test)
//	rush service-account NAME ROLE [SERVICES]  # a new key for another team, and its config entry
//	rush -print-config            # the effective configuration
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/logging"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 && args[0] == "probe" {
		return probe(args[1:], os.Stdout)
	}
	if len(args) > 0 && args[0] == "service-account" {
		return serviceAccount(args[1:], os.Stdout)
	}
	cmd := "serve"
	if len(args) > 0 && args[0] == "migrate" {
		cmd, args = "migrate", args[1:]
	}
	var cfg app.Config
	fs := flag.NewFlagSet("rush", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rush [migrate] [flags]\n\nEvery flag is also settable as RUSH_<NAME> (dots and dashes become underscores)\nand in the YAML file given by -config.file.\n\n")
		fs.PrintDefaults()
	}
	printConfig := fs.Bool("print-config", false, "print the effective configuration as YAML (secrets masked) and exit")
	status := new(bool)
	if cmd == "migrate" {
		status = fs.Bool("status", false, "with migrate: list the migrations applied and pending, change nothing; exit 3 while some are pending")
	}
	if err := config.Load(&cfg, fs, args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "rush:", err)
		return 2
	}
	unknownEnv := config.UnknownEnv(fs, os.Environ())
	if *printConfig {
		out, err := config.Dump(&cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rush:", err)
			return 1
		}
		_, _ = os.Stdout.Write(out)
		return 0
	}
	if cmd == "migrate" {
		return migrate(&cfg, unknownEnv, *status, os.Stdout)
	}
	return serve(&cfg, unknownEnv)
}

// warnUnknownEnv logs the RUSH_* variables that set nothing (a typo, or a
// setting renamed since: rate-limit.reserve-sync became rate-limit.sync).
func warnUnknownEnv(log *zap.Logger, names []string) {
	if len(names) > 0 {
		log.Warn("ignored environment variables: no setting has these names (rush -h lists them)", zap.Strings("names", names))
	}
}

func serve(cfg *app.Config, unknownEnv []string) int {
	// Failures after the configuration is read are logged like everything
	// else, so that with log.format=json stderr holds only JSON lines.
	log, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rush:", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	warnUnknownEnv(log, unknownEnv)
	setMemoryLimit(log, os.LookupEnv, cgroupMemoryFiles)
	a := app.New(cfg)
	if err := a.Err(); err != nil {
		log.Error("rush: cannot start", zap.Error(err))
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), a.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		log.Error("rush: start failed", zap.Error(err))
		return 1
	}
	sig := <-a.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), a.StopTimeout())
	defer cancel()
	if err := a.Stop(stopCtx); err != nil {
		log.Error("rush: stop failed", zap.Error(err))
		return 1
	}
	return sig.ExitCode
}

// migrate applies the schema's pending migrations, or with status lists
// them to out and changes nothing: exit 0 when the database is up to date,
// migrationsPending when it is not (an operator checks a database before
// or after an upgrade, a script on the exit code).
func migrate(cfg *app.Config, unknownEnv []string, status bool, out io.Writer) int {
	log, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rush:", err)
		return 1
	}
	logging.RouteLibraries(log)
	defer func() { _ = log.Sync() }()
	warnUnknownEnv(log, unknownEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	db, err := openDB(ctx, cfg.Postgres)
	if err != nil {
		log.Error("migrate", zap.Error(err))
		return 1
	}
	defer db.Close()
	if status {
		applied, pending, err := schema.Status(ctx, db)
		if err != nil {
			log.Error("migrate -status", zap.Error(err))
			return 1
		}
		for _, v := range applied {
			fmt.Fprintln(out, "applied", v)
		}
		for _, v := range pending {
			fmt.Fprintln(out, "pending", v)
		}
		fmt.Fprintf(out, "%d applied, %d pending\n", len(applied), len(pending))
		if len(pending) > 0 {
			return migrationsPending
		}
		return 0
	}
	applied, err := schema.Migrate(ctx, db, log)
	if err != nil {
		log.Error("migrate failed", zap.Error(err))
		return 1
	}
	log.Info("migrations applied", zap.Strings("versions", applied))
	return 0
}

// migrationsPending is the exit code of `rush migrate -status` for a
// database with migrations still to apply.
const migrationsPending = 3

// probe GETs every URL and says what each answered; it fails unless all
// answered 200. The image has no shell and no curl: this is how `helm test`
// asks every component's /readyz.
func probe(urls []string, out io.Writer) int {
	if len(urls) == 0 {
		fmt.Fprintln(out, "usage: rush probe URL...")
		return 2
	}
	client := &http.Client{Timeout: 5 * time.Second}
	failed := 0
	for _, u := range urls {
		res, err := client.Get(u)
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s: %v\n", u, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			failed++
		}
		fmt.Fprintf(out, "%s: %d %s\n", u, res.StatusCode, bytes.TrimSpace(body))
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// serviceAccount makes a key for an integrating team's service: the key,
// shown once, goes to the team; the entry (its hash, role and scope) goes
// into jwt.service-accounts of every process. Nothing is stored here.
func serviceAccount(args []string, out io.Writer) int {
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintln(out, "usage: rush service-account NAME ROLE [SERVICE+SERVICE]   (ROLE: user, organizer or admin; SERVICES: e.g. catalog+analytics, empty: all)")
		return 2
	}
	key, hash, err := authn.NewServiceAccountKey(args[0])
	if err != nil {
		fmt.Fprintln(out, "rush:", err)
		return 2
	}
	entry := args[0] + ":" + args[1] + ":" + hash
	if len(args) == 3 {
		entry += ":" + args[2]
	}
	if err := app.ValidateServiceAccount(entry); err != nil {
		fmt.Fprintln(out, "rush:", err)
		return 2
	}
	fmt.Fprintf(out, "key (hand it to the team's secret store; it is not kept anywhere):\n  %s\n", key)
	fmt.Fprintf(out, "entry (append to jwt.service-accounts / RUSH_JWT_SERVICE_ACCOUNTS of every process):\n  %s\n", entry)
	return 0
}
