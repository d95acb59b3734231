// Command sonevakt-agent observes one machine and reports to the Sonevakt
// collector. This file parses flags and nothing else.
package main

import (
	"context"
	"encoding/json"
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

	"github.com/sonevakt/sonevakt/agent/internal/app"
	"github.com/sonevakt/sonevakt/agent/internal/config"
	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/agent/internal/sensor/inventory"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/agent/internal/uplink"
	"github.com/sonevakt/sonevakt/pkg/buildinfo"
	"github.com/sonevakt/sonevakt/pkg/svc"
	"github.com/sonevakt/sonevakt/pkg/wire"

	_ "github.com/sonevakt/sonevakt/agent/internal/sensor/all"
)

const usage = `sonevakt-agent reports this machine to the Sonevakt collector.

Usage:
  sonevakt-agent enroll --collector HOST:PORT --token TOKEN --data DIR
  sonevakt-agent run --data DIR [--config FILE] [--collector HOST:PORT --token TOKEN]
  sonevakt-agent service install|uninstall|start|stop|restart|status [--data DIR] [--config FILE]
  sonevakt-agent inventory --json
  sonevakt-agent media scan [--sysfs DIR] [--include-loop] [--json]
  sonevakt-agent media probe FILE [--label-pattern P] [--marker-file NAME] [--json]
  sonevakt-agent traffic --pcap FILE [--zones FILE] [--json]
  sonevakt-agent status --data DIR [--json]
  sonevakt-agent version

Run 'sonevakt-agent COMMAND --help' for a command's flags.
`

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "sonevakt-agent:", strings.TrimSuffix(err.Error(), ": usage"))
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sonevakt-agent:", err)
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
		fmt.Fprintln(stdout, "sonevakt-agent", buildinfo.String())
		return nil
	case "enroll":
		return enroll(ctx, rest, stdout, stderr)
	case "run":
		return runAgent(ctx, rest, stderr)
	case "service":
		return serviceCmd(rest, stdout, stderr)
	case "inventory":
		return printInventory(ctx, rest, stdout, stderr)
	case "status":
		return status(rest, stdout, stderr)
	case "media":
		return mediaCmd(rest, stdout, stderr)
	case "traffic":
		return trafficCmd(rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
}

func flags(name string, args []string, stderr io.Writer, def func(*flag.FlagSet)) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet("sonevakt-agent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%v: %w", err, errUsage)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	return fs, nil
}

func enroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var collector, token, data string
	if _, err := flags("enroll", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&collector, "collector", "", "collector `HOST:PORT`")
		fs.StringVar(&token, "token", "", "enrollment `TOKEN` from 'sonevakt-collector token create'")
		fs.StringVar(&data, "data", "", "agent data `DIR`")
	}); err != nil {
		return err
	}
	if collector == "" || token == "" || data == "" {
		return fmt.Errorf("enroll needs --collector, --token and --data: %w", errUsage)
	}
	id, err := enrollData(ctx, collector, token, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled as agent %s with %s\n", id, collector)
	return nil
}

// enrollData enrolls the data dir with a collector and returns the agent ID;
// enroll and run --collector/--token share it.
func enrollData(ctx context.Context, collector, token, data string) (string, error) {
	tok, err := wire.ParseToken(token)
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, errUsage)
	}
	if _, err := identity.Load(data); err == nil {
		return "", fmt.Errorf("%s already holds an enrolled identity; remove %s to enroll again", data, identity.Dir(data))
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", err
	}
	fp, err := identity.Fingerprint()
	if err != nil {
		return "", fmt.Errorf("hardware fingerprint: %w", err)
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, err := uplink.Enroll(ctx, uplink.EnrollRequest{Collector: collector, Token: tok, DataDir: data, Fingerprint: fp, Hostname: host})
	if err != nil {
		return "", err
	}
	return id.AgentID, nil
}

func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	var data, file string
	var en enrollSettings
	if _, err := flags("run", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&data, "data", "", "agent data `DIR`")
		fs.StringVar(&file, "config", "", "configuration `FILE` (YAML)")
		fs.StringVar(&en.collector, "collector", "", "enroll first with this collector `HOST:PORT` when DIR holds no identity (or SONEVAKT_COLLECTOR)")
		fs.StringVar(&en.token, "token", "", "enrollment `TOKEN` for --collector (or SONEVAKT_TOKEN)")
	}); err != nil {
		return err
	}
	en.fromEnv(!svc.Interactive())
	cfg := config.Default()
	if file != "" {
		var err error
		if cfg, err = config.Load(file); err != nil {
			return err
		}
	}
	if data != "" {
		cfg.DataDir = data
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("run needs --data DIR (or data_dir in --config): %w", errUsage)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	loop := func(ctx context.Context, stopWithin time.Duration, retry bool) error {
		log := slog.New(svc.Handler(ctx, level, stderr))
		if err := enrollAtStart(ctx, cfg.DataDir, en, retry, log); err != nil || ctx.Err() != nil {
			return err
		}
		a, err := app.New(cfg, log)
		if err != nil {
			return err
		}
		if err := a.Start(); err != nil {
			return err
		}
		<-ctx.Done()
		return a.Stop(stopWithin)
	}
	if !svc.Interactive() {
		// Started by systemd or the Windows service control manager: the
		// manager's stop cancels ctx, and svc waits 10 s for the drain.
		return svc.Run(serviceConfig(args, cfg.DataDir, nil), func(ctx context.Context) error {
			return loop(ctx, 9*time.Second, true)
		})
	}
	return loop(ctx, 10*time.Second, false)
}

func printInventory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var section string
	if _, err := flags("inventory", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON (the only format for now)")
		fs.StringVar(&section, "section", "", "only these `SECTIONS`, comma separated: "+strings.Join(wire.Sections, ", "))
	}); err != nil {
		return err
	}
	if !asJSON {
		return fmt.Errorf("inventory needs --json: %w", errUsage)
	}
	var sections []string
	if section != "" {
		for _, s := range strings.Split(section, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(wire.Sections, s) {
				return fmt.Errorf("--section %q: want one of %s: %w", s, strings.Join(wire.Sections, ", "), errUsage)
			}
			sections = append(sections, s)
		}
	}
	inv, err := inventory.Collect(ctx, sections...)
	if err != nil {
		return err
	}
	for _, w := range inv.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

func status(args []string, stdout, stderr io.Writer) error {
	var data string
	var asJSON bool
	if _, err := flags("status", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&data, "data", "", "agent data `DIR`")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	if data == "" {
		return fmt.Errorf("status needs --data DIR: %w", errUsage)
	}
	out := map[string]any{}
	if id, err := identity.Load(data); err == nil {
		out["agent_id"], out["collector"] = id.AgentID, id.Collector
		out["cert_not_after"] = id.Certificate().NotAfter
	} else {
		out["identity_error"] = err.Error()
	}
	sp, err := spool.Open(filepath.Join(data, "spool"), spool.Options{})
	var st spool.Stats
	switch {
	case errors.Is(err, spool.ErrLocked):
		out["spool_error"] = "the agent is running and holds the spool; its health records report it"
	case err != nil:
		return fmt.Errorf("open spool: %w", err)
	default:
		st = sp.Stats()
		sp.Close()
		out["spool"] = st
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "agent:     %v\ncollector: %v\n", out["agent_id"], out["collector"])
	if e, ok := out["spool_error"]; ok {
		fmt.Fprintf(stdout, "spool:     %v\n", e)
	} else {
		fmt.Fprintf(stdout, "spool:     %d records (%d bytes) waiting, next seq %d, committed %d, dropped %d\n",
			st.Records, st.Bytes, st.NextSeq, st.Committed, st.Dropped)
	}
	return nil
}
