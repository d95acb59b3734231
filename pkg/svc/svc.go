// Package svc runs a program under the operating system's service manager
// (systemd, the Windows service control manager) through kardianos/service,
// and implements the "service install|uninstall|start|stop|restart|status"
// verbs. The program itself is a Runner: its main loop, ending when its
// context is cancelled.
package svc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/service"
)

// Runner is a program's main loop; it returns when ctx is cancelled, after
// it has finished its work (flushed, committed, closed).
type Runner func(ctx context.Context) error

// DrainTimeout is how long Stop waits for the Runner to finish.
const DrainTimeout = 10 * time.Second

// Verbs are the verbs Control accepts.
var Verbs = []string{"install", "uninstall", "start", "stop", "restart", "status"}

// Config describes one service.
type Config struct {
	Name        string   // service name: sonevakt-agent, sonevakt-collector
	DisplayName string   // shown by the service manager
	Description string   // shown by the service manager
	Arguments   []string // the command line the service runs with, without the executable
	// UserName is the account the service runs as on Linux (empty: root). On
	// Windows it is ignored: the service runs as LocalSystem.
	UserName string
	// DataDir is the service's data dir; on Linux it is added to the
	// unit's ReadWritePaths when the packaged unit does not list it.
	DataDir string
	// Unit is the systemd unit to install on Linux; empty means the packaged
	// unit for Name (see Unit) with this executable and Arguments.
	Unit string
	// Out receives Control's messages; nil means os.Stdout.
	Out io.Writer
}

// manager is the part of kardianos' service.Service this package uses; tests
// replace it with a fake.
type manager interface {
	Run() error
	Start() error
	Stop() error
	Restart() error
	Install() error
	Uninstall() error
	Status() (service.Status, error)
	SystemLogger(errs chan<- error) (service.Logger, error)
}

// platform names the service manager kardianos found; tests replace it.
var platform = service.Platform

// ownUnit reports whether "service install" wrote the unit (kardianos
// writes and removes /etc/systemd/system/NAME.service); tests replace it.
var ownUnit = func(name string) bool {
	_, err := os.Stat("/etc/systemd/system/" + name + ".service")
	return err == nil
}

// newManager builds the real service manager; tests replace it.
var newManager = func(p service.Interface, c Config) (manager, error) {
	return service.New(p, kardianosConfig(c))
}

func kardianosConfig(c Config) *service.Config {
	kc := &service.Config{
		Name:        c.Name,
		DisplayName: c.DisplayName,
		Description: c.Description,
		Arguments:   c.Arguments,
		Option: service.KeyValue{
			// Windows: restart 5 s after a failure, forget failures after a
			// day, start at boot (delayed, so the network is up).
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "5s",
			"OnFailureResetPeriod":   86400,
			"StartType":              "automatic",
			"DelayedAutoStart":       true,
		},
	}
	if runtime.GOOS != "windows" {
		kc.UserName = c.UserName
		kc.Option["Restart"] = "on-failure"
		if c.Unit != "" {
			kc.Option["SystemdScript"] = c.Unit
		}
	}
	return kc
}

// Interactive reports whether the program runs from a terminal rather than
// under the service manager.
func Interactive() bool { return service.Interactive() }

// program is the service.Interface: Start launches the Runner, Stop cancels
// it and waits for it to drain.
type program struct {
	run   Runner
	drain time.Duration
	exit  func(code int) // called when the Runner ends without Stop; os.Exit
	warn  func(msg string)

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	stopping bool
	baseCtx  context.Context
}

func newProgram(ctx context.Context, r Runner) *program {
	return &program{
		run:     r,
		drain:   DrainTimeout,
		exit:    os.Exit,
		warn:    func(msg string) { fmt.Fprintln(os.Stderr, msg) },
		baseCtx: ctx,
	}
}

// Start runs the Runner in a goroutine and returns at once.
func (p *program) Start(service.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return errors.New("already started")
	}
	ctx, cancel := context.WithCancel(p.baseCtx)
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		err := p.run(ctx)
		p.mu.Lock()
		p.err = err
		stopping := p.stopping
		p.mu.Unlock()
		close(p.done)
		if !stopping {
			// The program ended on its own: exit with a failure so the
			// service manager's recovery (restart) takes over.
			if err == nil {
				err = errors.New("stopped on its own")
			}
			p.warn(fmt.Sprintf("service ended unexpectedly: %v", err))
			p.exit(1)
		}
	}()
	return nil
}

// Stop cancels the Runner's context and waits for it to finish, at most
// p.drain.
func (p *program) Stop(service.Service) error {
	p.mu.Lock()
	if p.done == nil {
		p.mu.Unlock()
		return nil
	}
	p.stopping = true
	p.cancel()
	done := p.done
	p.mu.Unlock()
	t := time.NewTimer(p.drain)
	defer t.Stop()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil && !errors.Is(p.err, context.Canceled) {
			return p.err
		}
		return nil
	case <-t.C:
		return fmt.Errorf("did not drain in time: still stopping after %v", p.drain)
	}
}

type loggerKey struct{}

// Run runs r under the service manager: it returns when the manager stops
// the service. On Windows the Runner's context carries the Event Log, which
// Handler and Writer use; elsewhere logs go to stderr (the journal).
func Run(cfg Config, r Runner) error {
	return runWith(cfg, r, runtime.GOOS == "windows")
}

func runWith(cfg Config, r Runner, systemLog bool) error {
	ctx := context.Background()
	p := newProgram(ctx, r)
	m, err := newManager(p, cfg)
	if err != nil {
		return fmt.Errorf("service %s: %w", cfg.Name, err)
	}
	if systemLog {
		errs := make(chan error, 4)
		lg, err := m.SystemLogger(errs)
		if err != nil {
			return fmt.Errorf("service %s: system log: %w", cfg.Name, err)
		}
		go func() {
			for e := range errs {
				fmt.Fprintln(os.Stderr, "system log:", e)
			}
		}()
		p.baseCtx = context.WithValue(ctx, loggerKey{}, lg)
		p.warn = func(msg string) { _ = lg.Error(msg) }
	}
	return m.Run()
}

// Control carries out one of Verbs for the service cfg describes.
func Control(verb string, cfg Config) error {
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	if !slices.Contains(Verbs, verb) {
		return fmt.Errorf("unknown service verb %q: want one of %s", verb, strings.Join(Verbs, ", "))
	}
	if runtime.GOOS == "linux" && platform() != "linux-systemd" {
		return fmt.Errorf("service %s: systemd is not running on this machine (found %s); the Sonevakt units need systemd", cfg.Name, platform())
	}
	if verb == "install" && runtime.GOOS == "linux" && cfg.Unit == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("service %s: %w", cfg.Name, err)
		}
		if cfg.Unit, err = Unit(cfg.Name, exe, cfg.Arguments, cfg.DataDir); err != nil {
			return err
		}
	}
	m, err := newManager(newProgram(context.Background(), nil), cfg)
	if err != nil {
		return fmt.Errorf("service %s: %w", cfg.Name, err)
	}
	name := cfg.Name
	switch verb {
	case "install":
		st, err := m.Status()
		switch {
		case err == nil:
			return fmt.Errorf("service %s is already installed (%s); run '%s service uninstall' first", name, statusWord(st), name)
		case !errors.Is(err, service.ErrNotInstalled):
			return fmt.Errorf("service %s may be installed already (%v); run '%s service uninstall' first", name, err, name)
		}
		if err := m.Install(); err != nil {
			return fmt.Errorf("install service %s: %w", name, err)
		}
		fmt.Fprintf(out, "installed service %s (runs: %s); start it with '%s service start'\n", name, strings.Join(cfg.Arguments, " "), name)
	case "uninstall":
		st, err := m.Status()
		if errors.Is(err, service.ErrNotInstalled) {
			return fmt.Errorf("service %s is not installed", name)
		}
		if runtime.GOOS == "linux" && !ownUnit(name) {
			return fmt.Errorf("service %s was not installed by 'service install' (no /etc/systemd/system/%s.service): the package owns its unit; remove the package, or run 'systemctl disable --now %s'", name, name, name)
		}
		if err == nil && st == service.StatusRunning {
			if err := m.Stop(); err != nil {
				return fmt.Errorf("stop service %s before uninstalling: %w", name, err)
			}
		}
		if err := m.Uninstall(); err != nil {
			return fmt.Errorf("uninstall service %s: %w", name, err)
		}
		fmt.Fprintf(out, "uninstalled service %s (its data dir is kept)\n", name)
	case "start", "stop", "restart":
		if _, err := m.Status(); errors.Is(err, service.ErrNotInstalled) {
			return fmt.Errorf("service %s is not installed; run '%s service install' first", name, name)
		}
		do := map[string]func() error{"start": m.Start, "stop": m.Stop, "restart": m.Restart}[verb]
		if err := do(); err != nil {
			return fmt.Errorf("%s service %s: %w", verb, name, err)
		}
		fmt.Fprintf(out, "%s: %s\n", name, map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[verb])
	case "status":
		st, err := m.Status()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintf(out, "%s: not installed\n", name)
		case err != nil:
			return fmt.Errorf("status of service %s: %w", name, err)
		default:
			fmt.Fprintf(out, "%s: %s\n", name, statusWord(st))
		}
	default:
		return fmt.Errorf("unknown service verb %q: want one of %s", verb, strings.Join(Verbs, ", "))
	}
	return nil
}

func statusWord(st service.Status) string {
	switch st {
	case service.StatusRunning:
		return "running"
	case service.StatusStopped:
		return "stopped"
	}
	return "unknown"
}
