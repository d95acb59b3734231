package svc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kardianos/service"
)

// fakeManager records calls and plays a service manager: Run starts the
// program, waits for stop and stops it.
type fakeManager struct {
	mu      sync.Mutex
	calls   []string
	status  service.Status
	statErr error
	failOn  map[string]error
	p       service.Interface
	stop    chan struct{}
	log     *fakeLog
}

func (f *fakeManager) call(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.failOn[name]
}

func (f *fakeManager) Run() error {
	if err := f.p.Start(nil); err != nil {
		return err
	}
	<-f.stop
	return f.p.Stop(nil)
}
func (f *fakeManager) Start() error     { return f.call("start") }
func (f *fakeManager) Stop() error      { return f.call("stop") }
func (f *fakeManager) Restart() error   { return f.call("restart") }
func (f *fakeManager) Install() error   { return f.call("install") }
func (f *fakeManager) Uninstall() error { return f.call("uninstall") }
func (f *fakeManager) Status() (service.Status, error) {
	f.call("status")
	return f.status, f.statErr
}
func (f *fakeManager) SystemLogger(chan<- error) (service.Logger, error) { return f.log, nil }

type fakeLog struct {
	mu      sync.Mutex
	entries []string
}

func (l *fakeLog) add(sev string, v ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, sev+": "+fmt.Sprint(v...))
	return nil
}
func (l *fakeLog) Error(v ...any) error              { return l.add("E", v...) }
func (l *fakeLog) Warning(v ...any) error            { return l.add("W", v...) }
func (l *fakeLog) Info(v ...any) error               { return l.add("I", v...) }
func (l *fakeLog) Errorf(f string, a ...any) error   { return l.add("E", fmt.Sprintf(f, a...)) }
func (l *fakeLog) Warningf(f string, a ...any) error { return l.add("W", fmt.Sprintf(f, a...)) }
func (l *fakeLog) Infof(f string, a ...any) error    { return l.add("I", fmt.Sprintf(f, a...)) }

func useFake(t *testing.T, f *fakeManager) {
	t.Helper()
	old, oldPlatform, oldOwn := newManager, platform, ownUnit
	platform = func() string { return "linux-systemd" }
	ownUnit = func(string) bool { return true }
	newManager = func(p service.Interface, _ Config) (manager, error) {
		f.p = p
		return f, nil
	}
	t.Cleanup(func() { newManager, platform, ownUnit = old, oldPlatform, oldOwn })
}

func TestStartReturnsAtOnceAndStopDrains(t *testing.T) {
	var running, drained atomic.Bool
	p := newProgram(context.Background(), func(ctx context.Context) error {
		running.Store(true)
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // flushing the spool
		drained.Store(true)
		return nil
	})
	p.exit = func(int) { t.Error("exit called after a requested stop") }
	t0 := time.Now()
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 50*time.Millisecond {
		t.Fatalf("Start took %v; want it to return at once", d)
	}
	time.Sleep(50 * time.Millisecond)
	if !running.Load() {
		t.Fatal("runner not running after Start")
	}
	t0 = time.Now()
	if err := p.Stop(nil); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !drained.Load() {
		t.Fatal("Stop returned before the runner finished")
	}
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Fatalf("Stop returned after %v; want it to wait for the 200 ms drain", d)
	}
}

func TestStopGivesUpAfterDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := newProgram(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		<-release
		return nil
	})
	p.drain = 100 * time.Millisecond
	p.exit = func(int) {}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err := p.Stop(nil)
	if err == nil || !strings.Contains(err.Error(), "did not drain in time") {
		t.Fatalf("Stop = %v; want a did-not-drain error", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Stop took %v; want about the 100 ms deadline", d)
	}
}

func TestStopReportsRunnerError(t *testing.T) {
	p := newProgram(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("spool close failed")
	})
	p.exit = func(int) {}
	_ = p.Start(nil)
	if err := p.Stop(nil); err == nil || !strings.Contains(err.Error(), "spool close failed") {
		t.Fatalf("Stop = %v; want the runner's error", err)
	}
}

func TestRunnerEndingOnItsOwnExits(t *testing.T) {
	code := make(chan int, 1)
	p := newProgram(context.Background(), func(ctx context.Context) error {
		return errors.New("cannot open spool")
	})
	var warned atomic.Value
	p.warn = func(m string) { warned.Store(m) }
	p.exit = func(c int) { code <- c }
	_ = p.Start(nil)
	select {
	case c := <-code:
		if c != 1 {
			t.Fatalf("exit code %d; want 1", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit after the runner failed")
	}
	if m, _ := warned.Load().(string); !strings.Contains(m, "cannot open spool") {
		t.Fatalf("warning %q does not name the error", m)
	}
}

func TestRunUnderManager(t *testing.T) {
	f := &fakeManager{stop: make(chan struct{}), log: &fakeLog{}}
	useFake(t, f)
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- runWith(Config{Name: "x"}, func(ctx context.Context) error {
			log := slog.New(Handler(ctx, slog.LevelInfo, nil))
			log.Info("started", "k", "v")
			log.Warn("careful")
			close(started)
			<-ctx.Done()
			log.Error("stopping")
			return nil
		}, true)
	}()
	<-started
	close(f.stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	want := []string{`I: level=INFO msg=started k=v`, `W: level=WARN msg=careful`, `E: level=ERROR msg=stopping`}
	if got := f.log.entries; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("system log = %q; want %q", got, want)
	}
}

func TestHandlerFallback(t *testing.T) {
	var buf bytes.Buffer
	slog.New(Handler(context.Background(), slog.LevelInfo, &buf)).Info("hello")
	if !strings.Contains(buf.String(), "msg=hello") {
		t.Fatalf("fallback handler wrote %q", buf.String())
	}
	if w := Writer(context.Background(), &buf); w != &buf {
		t.Fatal("Writer without a system log is not the fallback")
	}
}

func TestWriterLevels(t *testing.T) {
	lg := &fakeLog{}
	ctx := context.WithValue(context.Background(), loggerKey{}, service.Logger(lg))
	w := Writer(ctx, nil)
	fmt.Fprint(w, "time=x level=INFO msg=a\ntime=x level=ERROR msg=b\npartial ")
	fmt.Fprint(w, "level=WARN msg=c\n")
	want := "I: time=x level=INFO msg=a|E: time=x level=ERROR msg=b|W: partial level=WARN msg=c"
	if got := strings.Join(lg.entries, "|"); got != want {
		t.Fatalf("entries %q; want %q", got, want)
	}
}

func TestControlVerbs(t *testing.T) {
	for _, tc := range []struct {
		verb    string
		status  service.Status
		statErr error
		fail    map[string]error
		calls   string
		out     string
		err     string
		sysv    bool
		pkgUnit bool
	}{
		{verb: "install", statErr: service.ErrNotInstalled, calls: "status install", out: "installed service sonevakt-agent (runs: run --data /d)"},
		{verb: "install", status: service.StatusRunning, calls: "status", err: "already installed (running); run 'sonevakt-agent service uninstall' first"},
		{verb: "install", status: service.StatusStopped, calls: "status", err: "already installed (stopped)"},
		{verb: "install", statErr: errors.New("service in failed state"), calls: "status", err: "may be installed already (service in failed state)"},
		{verb: "install", statErr: service.ErrNotInstalled, fail: map[string]error{"install": errors.New("access denied")}, calls: "status install", err: "install service sonevakt-agent: access denied"},
		{verb: "uninstall", status: service.StatusRunning, calls: "status stop uninstall", out: "uninstalled service sonevakt-agent"},
		{verb: "uninstall", status: service.StatusStopped, calls: "status uninstall", out: "uninstalled"},
		{verb: "uninstall", statErr: service.ErrNotInstalled, calls: "status", err: "service sonevakt-agent is not installed"},
		{verb: "uninstall", status: service.StatusRunning, calls: "status", err: "the package owns its unit", pkgUnit: true},
		{verb: "start", status: service.StatusStopped, calls: "status start", out: "sonevakt-agent: started"},
		{verb: "start", statErr: service.ErrNotInstalled, calls: "status", err: "not installed; run 'sonevakt-agent service install' first"},
		{verb: "start", status: service.StatusStopped, fail: map[string]error{"start": errors.New("boom")}, calls: "status start", err: "start service sonevakt-agent: boom"},
		{verb: "stop", status: service.StatusRunning, calls: "status stop", out: "sonevakt-agent: stopped"},
		{verb: "restart", status: service.StatusRunning, calls: "status restart", out: "sonevakt-agent: restarted"},
		{verb: "status", status: service.StatusRunning, calls: "status", out: "sonevakt-agent: running"},
		{verb: "status", status: service.StatusStopped, calls: "status", out: "sonevakt-agent: stopped"},
		{verb: "status", statErr: service.ErrNotInstalled, calls: "status", out: "sonevakt-agent: not installed"},
		{verb: "status", statErr: errors.New("service in failed state"), calls: "status", err: "status of service sonevakt-agent: service in failed state"},
		{verb: "frobnicate", calls: "", err: `unknown service verb "frobnicate"`},
		{verb: "status", calls: "", err: "systemd is not running on this machine (found linux-sysv)", sysv: true},
	} {
		t.Run(tc.verb, func(t *testing.T) {
			f := &fakeManager{status: tc.status, statErr: tc.statErr, failOn: tc.fail}
			useFake(t, f)
			if tc.sysv {
				if runtime.GOOS != "linux" {
					t.Skip("only Linux needs systemd")
				}
				platform = func() string { return "linux-sysv" }
			}
			if tc.pkgUnit {
				if runtime.GOOS != "linux" {
					t.Skip("only Linux has packaged units")
				}
				ownUnit = func(string) bool { return false }
			}
			var out bytes.Buffer
			err := Control(tc.verb, Config{Name: "sonevakt-agent", Arguments: []string{"run", "--data", "/d"}, Unit: "x", Out: &out})
			if got := strings.Join(f.calls, " "); got != tc.calls {
				t.Errorf("calls %q; want %q", got, tc.calls)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v; want %q", err, tc.err)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q; want %q", out.String(), tc.out)
			}
		})
	}
}

func TestKardianosConfig(t *testing.T) {
	kc := kardianosConfig(Config{Name: "sonevakt-agent", Arguments: []string{"run"}, UserName: "sonevakt", Unit: "[Unit]\n"})
	if kc.Option["OnFailure"] != "restart" || kc.Option["OnFailureDelayDuration"] != "5s" ||
		kc.Option["OnFailureResetPeriod"] != 86400 || kc.Option["StartType"] != "automatic" || kc.Option["DelayedAutoStart"] != true {
		t.Fatalf("Windows options %v", kc.Option)
	}
	if kc.Option["SystemdScript"] != "[Unit]\n" || kc.UserName != "sonevakt" {
		t.Fatalf("Linux options %v, user %q", kc.Option, kc.UserName)
	}
}

func TestUnit(t *testing.T) {
	u, err := Unit("sonevakt-agent", "/opt/so nevakt/agent", []string{"run", "--data", "/srv/agent data", "--config", "/etc/100%.yaml"}, "/srv/agent data")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ExecStart="/opt/so nevakt/agent" run --data "/srv/agent data" --config /etc/100%%.yaml` + "\n",
		"ReadWritePaths=/var/lib/sonevakt/agent\nReadWritePaths=\"/srv/agent data\"\n",
		"AmbientCapabilities=CAP_NET_RAW",
		"EnvironmentFile=-/etc/sonevakt/agent.env",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	if strings.Count(u, "ExecStart=") != 1 {
		t.Error("more than one ExecStart")
	}
	u, err = Unit("sonevakt-collector", "/usr/bin/sonevakt-collector", []string{"serve", "--data", "/var/lib/sonevakt/collector"}, "/var/lib/sonevakt/collector")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(u, "ReadWritePaths=") != 1 || !strings.Contains(u, "User=sonevakt\n") {
		t.Errorf("collector unit:\n%s", u)
	}
	if _, err := Unit("nope", "/x", nil, ""); err == nil {
		t.Error("Unit of an unknown service succeeded")
	}
}
