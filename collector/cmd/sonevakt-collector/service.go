package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/svc"
)

// collectorDefaults returns the data dir and config file a service uses when
// no flags name them.
func collectorDefaults() (data, config string) {
	if runtime.GOOS == "windows" {
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return filepath.Join(base, "Sonevakt", "collector"), filepath.Join(base, "Sonevakt", "collector.yaml")
	}
	return "/var/lib/sonevakt/collector", "/etc/sonevakt/collector.yaml"
}

func collectorService(args []string, data string, out io.Writer) svc.Config {
	return svc.Config{
		Name:        "sonevakt-collector",
		DisplayName: "Sonevakt collector",
		Description: "Keeps the configuration map of the information system; receives the Sonevakt agents.",
		Arguments:   args,
		UserName:    "sonevakt", // the packaged unit's system user; Windows: LocalSystem
		DataDir:     data,
		Out:         out,
	}
}

// serviceCmd is "sonevakt-collector service VERB [--data DIR] [--config FILE]".
func serviceCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "usage: sonevakt-collector service "+strings.Join(svc.Verbs, "|")+" [--data DIR] [--config FILE]")
			return nil
		}
		return fmt.Errorf("service needs a verb: %s: %w", strings.Join(svc.Verbs, ", "), errUsage)
	}
	verb := args[0]
	if !slices.Contains(svc.Verbs, verb) {
		return fmt.Errorf("unknown service verb %q: want one of %s: %w", verb, strings.Join(svc.Verbs, ", "), errUsage)
	}
	defData, defConfig := collectorDefaults()
	var data, file string
	fs, err := flags("service "+verb, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&data, "data", defData, "data `DIR` the service runs with")
		fs.StringVar(&file, "config", "", "configuration `FILE` the service runs with (default "+defConfig+" when present)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] {
		if _, err := os.Stat(defConfig); err == nil {
			file = defConfig
		}
	}
	if data == "" {
		return fmt.Errorf("service %s: --data is empty: %w", verb, errUsage)
	}
	if abs, err := filepath.Abs(data); err == nil {
		data = abs
	}
	sargs := []string{"serve", "--data", data}
	if file != "" {
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		sargs = append(sargs, "--config", file)
	}
	return svc.Control(verb, collectorService(sargs, data, stdout))
}

// serveCmd runs serve; started by the service manager (systemd, the Windows
// service control manager) it runs under pkg/svc, so the manager's stop
// cancels serve's context and waits for it, and on Windows the log goes to
// the Event Log.
func serveCmd(ctx context.Context, args []string, stderr io.Writer) error {
	if svc.Interactive() {
		return serve(ctx, args, stderr)
	}
	return svc.Run(collectorService(append([]string{"serve"}, args...), "", nil), func(ctx context.Context) error {
		return serve(ctx, args, svc.Writer(ctx, stderr))
	})
}
