// Command sonevakt-collector runs the Sonevakt collector and the operator verbs
// that act on its data dir. This file parses flags and nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/app"
	"github.com/sonevakt/sonevakt/collector/internal/config"
	"github.com/sonevakt/sonevakt/collector/internal/ingest"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/web"
	"github.com/sonevakt/sonevakt/pkg/buildinfo"
)

const usage = `sonevakt-collector keeps the configuration map of the information system.

Usage:
  sonevakt-collector serve --data DIR [--agents ADDR] [--web ADDR] [--config FILE]
  sonevakt-collector token create --data DIR [--ttl 24h] [--uses N]
  sonevakt-collector apitoken create --data DIR --role admin|drift|sikkerhet|leder|revisor [--name NAME]
  sonevakt-collector admin reset-password --data DIR [--user admin]
  sonevakt-collector agent list --data DIR
  sonevakt-collector agent revoke --data DIR AGENT_ID
  sonevakt-collector version

Run 'sonevakt-collector COMMAND --help' for a command's flags.
`

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "sonevakt-collector:", strings.TrimSuffix(err.Error(), ": usage"))
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sonevakt-collector:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command: %w", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "sonevakt-collector", buildinfo.String())
		return nil
	case "serve":
		return serve(ctx, rest, stderr)
	case "token", "apitoken", "admin", "agent":
		if len(rest) == 0 {
			return fmt.Errorf("%s needs a subcommand (see --help): %w", cmd, errUsage)
		}
		return verb(ctx, cmd+" "+rest[0], rest[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
}

// flags parses a command's flags; a usage error wraps errUsage.
func flags(name string, args []string, stderr io.Writer, def func(*flag.FlagSet)) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet("sonevakt-collector "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%v: %w", err, errUsage)
	}
	return fs, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := config.Default()
	var file string
	fs, err := flags("serve", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cfg.DataDir, "data", "", "data `DIR` (store, CA)")
		fs.StringVar(&cfg.AgentsAddr, "agents", cfg.AgentsAddr, "agent listener `ADDR` (UDP, QUIC)")
		fs.StringVar(&cfg.WebAddr, "web", cfg.WebAddr, "UI and API `ADDR` (HTTPS)")
		fs.StringVar(&file, "config", "", "configuration `FILE` (YAML); flags given override it")
	})
	if err != nil {
		return err
	}
	if file != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		flagCfg := cfg
		if err := config.Load(file, &cfg); err != nil && !(cfg.DataDir == "" && strings.Contains(err.Error(), "data_dir is empty")) {
			return err
		}
		if set["data"] {
			cfg.DataDir = flagCfg.DataDir
		}
		if set["agents"] {
			cfg.AgentsAddr = flagCfg.AgentsAddr
		}
		if set["web"] {
			cfg.WebAddr = flagCfg.WebAddr
		}
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("serve needs --data DIR: %w", errUsage)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	log := newLogger(stderr, cfg.LogLevel)
	env, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer env.Close()
	return env.Serve(ctx, ingest.Fault(os.Getenv("SONEVAKT_FAULT")), nil)
}

func verb(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cfg := config.Default()
	var (
		ttl             time.Duration
		uses            int
		role, tname, us string
	)
	fs, err := flags(name, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cfg.DataDir, "data", "", "data `DIR` of the collector")
		switch name {
		case "token create":
			fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
			fs.IntVar(&uses, "uses", 1, "how many agents may enroll with it")
		case "apitoken create":
			fs.StringVar(&role, "role", "", "role: admin, drift, sikkerhet, leder or revisor")
			fs.StringVar(&tname, "name", "", "what the token is for")
		case "admin reset-password":
			fs.StringVar(&us, "user", "admin", "user `NAME`")
		}
	})
	if err != nil {
		return err
	}
	switch name {
	case "token create", "apitoken create", "admin reset-password", "agent list", "agent revoke":
	default:
		return fmt.Errorf("unknown command %q: %w", name, errUsage)
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("%s needs --data DIR: %w", name, errUsage)
	}
	if name == "apitoken create" && !model.Role(role).Valid() {
		return fmt.Errorf("--role %q: want admin, drift, sikkerhet, leder or revisor: %w", role, errUsage)
	}
	if name == "agent revoke" && fs.NArg() != 1 {
		return fmt.Errorf("agent revoke needs one AGENT_ID: %w", errUsage)
	}
	if name == "token create" && (ttl <= 0 || uses < 1) {
		return fmt.Errorf("--ttl must be positive and --uses at least 1: %w", errUsage)
	}
	if _, err := os.Stat(cfg.DataDir); err != nil && name != "token create" {
		return fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	env, err := app.Open(ctx, cfg, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer env.Close()
	actor := "cli:" + currentUser()
	now := time.Now()
	switch name {
	case "token create":
		tok, rec, err := env.Authority.CreateToken(ctx, ttl, uses, actor)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok.String())
		fmt.Fprintf(stderr, "token %s: %d use(s), expires %s\n", rec.ID, rec.MaxUses, rec.ExpiresAt.Format(time.RFC3339))
	case "apitoken create":
		tok, err := web.CreateAPIToken(ctx, env.Store, model.Role(role), tname, actor, now)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
	case "admin reset-password":
		pw, err := web.ResetPassword(ctx, env.Store, us, now)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, pw)
	case "agent list":
		agents, err := env.Store.ListAgents(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-32s  %-24s  %-20s  %s\n", "AGENT", "HOSTNAME", "LAST SEEN", "STATE")
		for _, a := range agents {
			state := "active"
			if a.Revoked() {
				state = "revoked"
			}
			seen := "never"
			if !a.LastSeen.IsZero() {
				seen = a.LastSeen.Local().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(stdout, "%-32s  %-24s  %-20s  %s\n", a.ID, a.Hostname, seen, state)
		}
	case "agent revoke":
		if err := env.Authority.Revoke(ctx, fs.Arg(0), actor); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "agent %s revoked; it is refused at its next connection\n", fs.Arg(0))
	}
	return nil
}

func currentUser() string {
	for _, k := range []string{"SUDO_USER", "USER", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "unknown"
}
