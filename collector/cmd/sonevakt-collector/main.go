// Command sonevakt-collector runs the Sonevakt collector and the operator verbs
// that act on its data dir. This file parses flags and nothing else.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/app"
	"github.com/sonevakt/sonevakt/collector/internal/config"
	"github.com/sonevakt/sonevakt/collector/internal/evidence"
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
  sonevakt-collector evidence export --data DIR --from DATE --to DATE --out FILE [--config FILE]
  sonevakt-collector evidence verify [--pubkey FILE | --fingerprint HEX] FILE
  sonevakt-collector evidence pubkey --data DIR [--out FILE]
  sonevakt-collector evidence check --data DIR
  sonevakt-collector evidence report --data DIR --year YEAR [--lang nb|en] --out FILE.pdf|FILE.html
  sonevakt-collector service install|uninstall|start|stop|restart|status [--data DIR] [--config FILE]
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
		return serveCmd(ctx, rest, stderr)
	case "service":
		return serviceCmd(rest, stdout, stderr)
	case "evidence":
		if len(rest) == 0 {
			return fmt.Errorf("evidence needs a subcommand: export, verify, pubkey, check or report: %w", errUsage)
		}
		return evidenceVerb(ctx, rest[0], rest[1:], stdout, stderr)
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
		fs.StringVar(&cfg.Store, "store", cfg.Store, storeUsage)
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
		if set["store"] {
			cfg.Store = flagCfg.Store
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

// storeUsage describes the --store flag every command that opens the store has.
const storeUsage = "store `DSN`: sqlite:FILE (default: sonevakt.db in the data dir) or postgres://user@host/db (password from PGPASSWORD or PGPASSFILE)"

func verb(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cfg := config.Default()
	var (
		ttl             time.Duration
		uses            int
		role, tname, us string
	)
	fs, err := flags(name, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cfg.DataDir, "data", "", "data `DIR` of the collector")
		fs.StringVar(&cfg.Store, "store", "", storeUsage)
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

// errVerifyFailed makes evidence verify exit with status 1 after printing
// what failed.
var errVerifyFailed = errors.New("the bundle does not verify")

func evidenceVerb(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	cfg := config.Default()
	var from, to, out, pubkey, fingerprint, cfgFile, lang string
	var year int
	fs, err := flags("evidence "+sub, args, stderr, func(fs *flag.FlagSet) {
		switch sub {
		case "export", "pubkey", "check", "report":
			fs.StringVar(&cfg.DataDir, "data", "", "data `DIR` of the collector")
			fs.StringVar(&cfg.Store, "store", "", storeUsage)
		}
		switch sub {
		case "export":
			fs.StringVar(&from, "from", "", "first `DATE` of the period (2026-01-01, Europe/Oslo) or an RFC 3339 time")
			fs.StringVar(&to, "to", "", "last `DATE` of the period, included (or an RFC 3339 time, excluded)")
			fs.StringVar(&out, "out", "", "bundle `FILE` to write (.zip)")
			fs.StringVar(&cfgFile, "config", "", "configuration `FILE` (for the zones file and map settings)")
		case "pubkey":
			fs.StringVar(&out, "out", "", "write the public key (PEM) to `FILE` instead of standard output")
		case "report":
			fs.IntVar(&year, "year", 0, "the `YEAR` the management review covers")
			fs.StringVar(&lang, "lang", "nb", "language of the report: nb or en")
			fs.StringVar(&out, "out", "", "report `FILE` to write: .pdf or .html")
		case "verify":
			fs.StringVar(&pubkey, "pubkey", "", "the collector's public key `FILE` (PEM, from 'evidence pubkey')")
			fs.StringVar(&fingerprint, "fingerprint", "", "the collector key's SHA-256 fingerprint (`HEX`)")
		}
	})
	if err != nil {
		return err
	}
	switch sub {
	case "verify":
		return evidenceVerify(fs, pubkey, fingerprint, stdout)
	case "export", "pubkey", "check", "report":
	default:
		return fmt.Errorf("unknown command \"evidence %s\": want export, verify, pubkey, check or report: %w", sub, errUsage)
	}
	if cfgFile != "" {
		dataDir := cfg.DataDir
		if err := config.Load(cfgFile, &cfg); err != nil && !(cfg.DataDir == "" && strings.Contains(err.Error(), "data_dir is empty")) {
			return err
		}
		if dataDir != "" {
			cfg.DataDir = dataDir
		}
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("evidence %s needs --data DIR: %w", sub, errUsage)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("evidence %s takes no arguments, got %q: %w", sub, fs.Args(), errUsage)
	}
	if sub == "report" {
		if err := checkReportFlags(year, lang, out); err != nil {
			return err
		}
	}
	var pFrom, pTo time.Time
	if sub == "export" {
		if from == "" || to == "" || out == "" {
			return fmt.Errorf("evidence export needs --from, --to and --out: %w", errUsage)
		}
		if pFrom, pTo, err = evidence.ParsePeriod(from, to); err != nil {
			return fmt.Errorf("%v: %w", err, errUsage)
		}
	}
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	env, err := app.Open(ctx, cfg, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer env.Close()
	switch sub {
	case "pubkey":
		key, err := env.EvidenceKey()
		if err != nil {
			return err
		}
		pub := key.Public().(ed25519.PublicKey)
		pem := evidence.PublicKeyPEM(pub)
		if out == "" {
			_, err = stdout.Write(pem)
		} else {
			err = os.WriteFile(out, pem, 0o644)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "fingerprint %s\n", evidence.Fingerprint(pub))
	case "check":
		res, err := env.CheckAuditChain(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "audit log: %d entries, head seq %d, %d checkpoint(s) agree; chain holds\n", res.Entries, res.HeadSeq, res.Checkpoints)
	case "export":
		return evidenceExport(ctx, env, pFrom, pTo, out, stderr)
	case "report":
		return evidenceReport(ctx, env, year, lang, out, stderr)
	}
	return nil
}

// checkReportFlags checks evidence report's flags before the store opens.
func checkReportFlags(year int, lang, out string) error {
	if year < 2000 || year > 9999 {
		return fmt.Errorf("evidence report needs --year, such as --year 2026: %w", errUsage)
	}
	if !slices.Contains(evidence.ReportLangs, lang) {
		return fmt.Errorf("--lang %q: want nb or en: %w", lang, errUsage)
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".pdf", ".html", ".htm":
	default:
		return fmt.Errorf("evidence report needs --out FILE ending in .pdf or .html, got %q: %w", out, errUsage)
	}
	return nil
}

// evidenceReport writes the management-review report for year to out, as
// PDF or HTML by out's extension, through a temporary file.
func evidenceReport(ctx context.Context, env *app.Env, year int, lang, out string, stderr io.Writer) error {
	rev, err := env.GatherReview(ctx, year)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".report-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	write := evidence.WriteReviewHTML
	if strings.EqualFold(filepath.Ext(out), ".pdf") {
		write = evidence.WriteReviewPDF
	}
	err = write(f, rev, lang)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return err
	}
	if err := env.RecordReview(ctx, year, "cli:"+currentUser(), out); err != nil {
		return fmt.Errorf("wrote %s, but could not record the review in the audit log: %w", out, err)
	}
	fmt.Fprintf(stderr, "wrote %s: management review %d, %d deviations opened, %d still open\n", out, year, rev.Deviations.Created, rev.OpenTotal)
	return nil
}

// evidenceExport writes the bundle to a temporary file beside out and
// renames it into place once complete, so that out is never half a bundle.
func evidenceExport(ctx context.Context, env *app.Env, from, to time.Time, out string, stderr io.Writer) error {
	f, err := os.CreateTemp(filepath.Dir(out), ".evidence-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	m, err := env.ExportEvidence(ctx, f, from, to, "cli:"+currentUser())
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: %d files, audit seq %d to %d, key %s\n", out, len(m.Files), m.Chain.FirstSeq, m.Chain.HeadSeq, m.Collector.KeyFingerprint)
	return nil
}

func evidenceVerify(fs *flag.FlagSet, pubkey, fingerprint string, stdout io.Writer) error {
	if fs.NArg() != 1 {
		return fmt.Errorf("evidence verify needs one bundle FILE: %w", errUsage)
	}
	if pubkey != "" && fingerprint != "" {
		return fmt.Errorf("give --pubkey or --fingerprint, not both: %w", errUsage)
	}
	var trust evidence.Trust
	if pubkey != "" {
		b, err := os.ReadFile(pubkey)
		if err != nil {
			return fmt.Errorf("--pubkey: %v: %w", err, errUsage)
		}
		if trust.PublicKey, err = evidence.ParsePublicKeyPEM(b); err != nil {
			return fmt.Errorf("--pubkey %s: %v: %w", pubkey, err, errUsage)
		}
	}
	if fingerprint != "" {
		if len(fingerprint) != 64 || strings.Trim(strings.ToLower(fingerprint), "0123456789abcdef") != "" {
			return fmt.Errorf("--fingerprint %q: want 64 hex digits: %w", fingerprint, errUsage)
		}
		trust.Fingerprint = fingerprint
	}
	rep := evidence.Verify(fs.Arg(0), trust)
	for _, c := range rep.Checks {
		fmt.Fprintln(stdout, c)
	}
	if !rep.OK() {
		return errVerifyFailed
	}
	fmt.Fprintln(stdout, "ok   the bundle verifies")
	return nil
}
