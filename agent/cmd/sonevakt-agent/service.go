package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/pkg/svc"
)

const serviceName = "sonevakt-agent"

// defaultPaths returns the data dir and config file a service uses when no
// flags name them: the packages' paths on Linux, %ProgramData%\Sonevakt on
// Windows.
func defaultPaths() (data, config string) {
	if runtime.GOOS == "windows" {
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return filepath.Join(base, "Sonevakt", "agent"), filepath.Join(base, "Sonevakt", "agent.yaml")
	}
	return "/var/lib/sonevakt/agent", "/etc/sonevakt/agent.yaml"
}

// serviceCmd is "sonevakt-agent service VERB [--data DIR] [--config FILE]".
func serviceCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "usage: sonevakt-agent service "+strings.Join(svc.Verbs, "|")+" [--data DIR] [--config FILE]")
			return nil
		}
		return fmt.Errorf("service needs a verb: %s: %w", strings.Join(svc.Verbs, ", "), errUsage)
	}
	verb := args[0]
	if !slices.Contains(svc.Verbs, verb) {
		return fmt.Errorf("unknown service verb %q: want one of %s: %w", verb, strings.Join(svc.Verbs, ", "), errUsage)
	}
	defData, defConfig := defaultPaths()
	var data, file string
	fs, err := flags("service "+verb, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&data, "data", defData, "agent data `DIR` the service runs with")
		fs.StringVar(&file, "config", "", "configuration `FILE` the service runs with (default "+defConfig+" when present)")
	})
	if err != nil {
		return err
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
	sargs := []string{"run", "--data", data}
	if file != "" {
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		sargs = append(sargs, "--config", file)
	}
	return svc.Control(verb, serviceConfig(sargs, data, stdout))
}

func serviceConfig(args []string, data string, out io.Writer) svc.Config {
	return svc.Config{
		Name:        serviceName,
		DisplayName: "Sonevakt agent",
		Description: "Reports this machine's configuration and events to the Sonevakt collector.",
		Arguments:   args,
		// Root on Linux, with only the capabilities the packaged unit grants
		// (CAP_NET_RAW for capture among them); LocalSystem on Windows.
		UserName: "",
		DataDir:  data,
		Out:      out,
	}
}

// enrollSettings are run's optional --collector and --token, falling back to
// SONEVAKT_COLLECTOR and SONEVAKT_TOKEN. Under the service manager the
// environment is the unit's own, so the plain COLLECTOR and TOKEN that
// /etc/sonevakt/agent.env sets (EnvironmentFile=) count too.
type enrollSettings struct{ collector, token string }

func (e *enrollSettings) fromEnv(underManager bool) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(os.Getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	collector, token := []string{"SONEVAKT_COLLECTOR"}, []string{"SONEVAKT_TOKEN"}
	if underManager {
		collector, token = append(collector, "COLLECTOR"), append(token, "TOKEN")
	}
	if e.collector == "" {
		e.collector = get(collector...)
	}
	if e.token == "" {
		e.token = get(token...)
	}
}

// enrollAtStart enrolls when data holds no identity yet and a collector and
// token are given; with an identity it ignores them. Under the service
// manager it retries until ctx ends (the network may come up late); from a
// terminal it tries once. The token is never logged.
func enrollAtStart(ctx context.Context, data string, e enrollSettings, retry bool, log *slog.Logger) error {
	_, err := identity.Load(data)
	if err == nil || !errors.Is(err, identity.ErrNotEnrolled) {
		return nil // enrolled, or a damaged identity that run reports itself
	}
	if e.collector == "" && e.token == "" {
		return nil
	}
	if e.collector == "" || e.token == "" {
		return fmt.Errorf("%s is not enrolled and enrolling at start needs both --collector (SONEVAKT_COLLECTOR) and --token (SONEVAKT_TOKEN): %w", data, errUsage)
	}
	wait := 5 * time.Second
	for {
		log.Info("enrolling", "collector", e.collector, "data", data)
		id, err := enrollData(ctx, e.collector, e.token, data)
		if err == nil {
			log.Info("enrolled", "agent", id, "collector", e.collector)
			if retry { // started by the service manager: the token is spent
				forgetToken(serviceName, log)
			}
			return nil
		}
		if !retry || errors.Is(err, errUsage) {
			return fmt.Errorf("enroll with %s: %w", e.collector, err)
		}
		// Jittered, so that a fleet installed at once does not come back
		// in step: between half and the whole of the doubling wait.
		d := wait/2 + rand.N(wait/2+1)
		log.Error("enrollment failed; retrying", "collector", e.collector, "in", d, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		wait = min(2*wait, 5*time.Minute)
	}
}
