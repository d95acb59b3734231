// Package pgtest gives tests a real PostgreSQL: DSN returns a fresh, empty
// database, and NewServer a private cluster that a fault test may kill and
// restart. It is test support only: no binary imports it.
//
// DSN uses the server $SONEVAKT_PG_DSN names when it is set (a superuser or
// a role allowed to create databases); otherwise it starts one cluster per
// test process from Debian's server binaries (/usr/lib/postgresql/<ver>/bin),
// in a temporary directory, listening on a free loopback port and a unix
// socket in that directory, with SCRAM passwords and fsync on. As root the
// cluster runs as the "postgres" system user (PostgreSQL refuses root).
// Packages that use it stop that cluster when their tests end with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without it, or when the test process dies, the postmaster still dies with
// the process (Linux parent-death signal), and the next run removes the
// directories that crashed runs left.
//
// Where no PostgreSQL server is installed the tests skip naming the Debian
// package (postgresql); under CI=true they fail instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that points the tests at an existing
// PostgreSQL server instead of a cluster of their own.
const EnvDSN = "SONEVAKT_PG_DSN"

// Role is the unprivileged role that owns the databases a local cluster
// hands out: the store runs as a plain database owner, as in production.
const Role = "sonevakt"

// startTimeout bounds starting or restarting a cluster; the machine may be
// slow and shared.
const startTimeout = 90 * time.Second

var shared struct {
	once sync.Once
	s    *Server
	err  error
}

// DSN returns the DSN (postgres://… URL) of a new, empty database, dropped
// when t ends. The database is owned by the role the DSN logs in as.
func DSN(t testing.TB) string {
	t.Helper()
	if admin := os.Getenv(EnvDSN); admin != "" {
		name, err := createDatabase(admin, "")
		if err != nil {
			t.Fatalf("pgtest: %s: %v", EnvDSN, err)
		}
		dsn, err := withDatabase(admin, name)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		t.Cleanup(func() {
			if err := dropDatabase(admin, name); err != nil {
				t.Errorf("pgtest: drop database %s: %v", name, err)
			}
		})
		return dsn
	}
	shared.once.Do(func() { shared.s, shared.err = startServer() })
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	return shared.s.NewDatabase(t)
}

// Main runs the tests of a package that uses DSN, then stops the cluster DSN
// started, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared.s != nil {
		if err := shared.s.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop the shared cluster: %v\n", err)
		}
	}
	os.Exit(code)
}

// NewServer starts a private cluster for t, stopped and removed when t ends.
// Unlike the shared one behind DSN, a test may Kill and Start it.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := startServer()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// errNotInstalled marks a machine without the PostgreSQL server.
var errNotInstalled = errors.New("PostgreSQL server not installed (Debian package postgresql; scripts/test-deps.sh installs it)")

// unavailable skips t when PostgreSQL is not installed (fails under
// CI=true), and fails it for any other reason a cluster did not start.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("pgtest: %v", err)
	}
	t.Fatalf("pgtest: %v", err)
}

// Server is a PostgreSQL cluster in a temporary directory.
type Server struct {
	dir      string // owns data/, the unix socket, postgres.log
	bin      string // the directory of initdb and postgres
	port     int
	password string // of the superuser postgres and of Role
	osUser   *osUser

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// DSN returns the DSN of the database "sonevakt" (owned by Role) that every
// cluster starts with; it stays valid across Kill and Start.
func (s *Server) DSN() string { return s.url(Role, "sonevakt") }

// AdminDSN returns the superuser's DSN of the database "postgres".
func (s *Server) AdminDSN() string { return s.url("postgres", "postgres") }

// Dir returns the directory holding the cluster (data/ is its data
// directory, postgres.log its log).
func (s *Server) Dir() string { return s.dir }

// Port returns the loopback TCP port the cluster listens on.
func (s *Server) Port() int { return s.port }

func (s *Server) url(user, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, s.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// NewDatabase returns the DSN of a new, empty database owned by Role,
// dropped when t ends (if the server is running then).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name, err := createDatabase(s.AdminDSN(), Role)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if !s.Running() {
			return // a killed cluster's directory goes as a whole
		}
		if err := dropDatabase(s.AdminDSN(), name); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.url(Role, name)
}

// Running reports whether the postmaster this Server started is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Kill sends SIGKILL to the postmaster and waits for it to exit, as a crash
// would leave the cluster: its backends exit on their own once they notice,
// and the next Start recovers from the write-ahead log.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("kill postgres: not running")
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill postgres: %w", err)
	}
	<-s.exited
	s.cmd = nil
	return nil
}

// Stop shuts the postmaster down (fast shutdown: clients are disconnected,
// a checkpoint is written), killing it if that takes over a minute.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
		return errors.New("stop postgres: no shutdown within a minute; killed")
	}
	s.cmd = nil
	return nil
}

// Start starts the postmaster again on the same data directory and port,
// after Kill or Stop, and returns once it accepts connections (crash
// recovery included).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("start postgres: already running")
	}
	return s.startLocked(true)
}

// close stops the cluster and removes its directory.
func (s *Server) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.stopLocked()
	if rmErr := os.RemoveAll(s.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", s.dir, rmErr))
	}
	return err
}

// startServer creates a cluster in a new temporary directory and starts it.
func startServer() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	u, err := runAs()
	if err != nil {
		return nil, err
	}
	sweepStale()
	dir, err := makeDir(u)
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, osUser: u, password: rand.Text()}
	if err := s.initdb(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.mu.Lock()
	err = s.startLocked(false)
	s.mu.Unlock()
	if err == nil {
		err = s.setup()
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// findBin returns the bin directory of the newest PostgreSQL server Debian's
// packages installed.
func findBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	var best string
	bestVer := -1
	for _, p := range found {
		ver, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		if err != nil || ver <= bestVer {
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err != nil {
			continue
		}
		best, bestVer = filepath.Dir(p), ver
	}
	if best == "" {
		return "", errNotInstalled
	}
	return best, nil
}

// initdb creates the data directory: UTF-8 without a locale (byte order, as
// SQLite's), SCRAM for every connection, the superuser's password from a
// file that is removed again.
func (s *Server) initdb() error {
	pw := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pw, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pw)
	if err := s.osUser.own(pw); err != nil {
		return err
	}
	cmd := s.command(filepath.Join(s.bin, "initdb"), "-D", filepath.Join(s.dir, "data"), "-U", "postgres",
		"--pwfile", pw, "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--no-locale", "--no-sync")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, tail(out))
	}
	return nil
}

// command prepares one of the server's programs to run as the cluster's
// user, in its directory, with a minimal environment.
func (s *Server) command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"LC_ALL=C", "TZ=UTC", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = sysProcAttr(s.osUser)
	return cmd
}

// startLocked starts the postmaster and waits until it accepts connections.
// The first start picks a free port, and another if a process took it first;
// a restart keeps the port the DSNs name, and retries while the killed
// postmaster's backends still hold its shared memory.
func (s *Server) startLocked(restart bool) error {
	deadline := time.Now().Add(startTimeout)
	for attempt := 0; ; attempt++ {
		if !restart {
			port, err := freePort()
			if err != nil {
				return err
			}
			s.port = port
		}
		err := s.spawn(deadline)
		if err == nil {
			return nil
		}
		var early *earlyExit
		if !errors.As(err, &early) || time.Now().After(deadline) {
			return err
		}
		switch {
		case !restart && strings.Contains(early.log, "could not bind"):
		case restart && (strings.Contains(early.log, "shared memory block is still in use") ||
			strings.Contains(early.log, "could not bind") || strings.Contains(early.log, "lock file")):
		default:
			return err
		}
		time.Sleep(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond)
	}
}

// earlyExit is a postmaster that exited before accepting connections.
type earlyExit struct {
	err error
	log string
}

func (e *earlyExit) Error() string { return fmt.Sprintf("postgres exited: %v: %s", e.err, e.log) }

func (s *Server) spawn(deadline time.Time) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	st, _ := logf.Stat()
	from := st.Size()
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(s.port), "-h", "127.0.0.1", "-k", s.dir,
		"-c", "unix_socket_permissions=0700",
		"-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on",
		"-c", "shared_buffers=16MB", "-c", "max_connections=200",
		"-c", "dynamic_shared_memory_type=mmap", // /dev/shm is small in containers
		"-c", "huge_pages=off", "-c", "max_wal_senders=0", "-c", "wal_level=minimal",
		"-c", "log_min_messages=warning", "-c", "log_connections=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := startKeepingParent(cmd); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	readLog := func() string {
		b, _ := os.ReadFile(logPath)
		if int64(len(b)) >= from {
			b = b[from:]
		}
		return tail(b)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		conn, err := pgx.Connect(ctx, s.AdminDSN())
		if err == nil {
			conn.Close(ctx)
			cancel()
			s.cmd, s.exited = cmd, exited
			return nil
		}
		cancel()
		select {
		case <-exited:
			return &earlyExit{err: waitErr, log: readLog()}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("postgres did not accept connections within %s: %v: %s", startTimeout, err, readLog())
		}
	}
}

// setup creates Role and its database "sonevakt".
func (s *Server) setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		"CREATE ROLE " + Role + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD " + quoteLiteral(s.password),
		"CREATE DATABASE sonevakt OWNER " + Role,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("set up cluster: %s: %w", strings.Fields(q)[1], err)
		}
	}
	return nil
}

// withDatabase returns dsn with its database replaced by db.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: not a URL", EnvDSN)
		}
		u.Path, u.RawPath = "/"+db, ""
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil // key=value: the last one counts
}

// createDatabase creates a uniquely named database through admin, owned by
// owner ("" for the admin's role), and returns its name.
func createDatabase(admin, owner string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "sonevakt_test_" + strings.ToLower(rand.Text()[:16])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	q := "CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'"
	if owner != "" {
		q += " OWNER " + owner
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// dropDatabase drops name, disconnecting whoever is still connected.
func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a program's output, for error messages.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 12 {
		lines = lines[len(lines)-12:]
	}
	return strings.Join(slices.Clip(lines), "\n")
}

// ownerFile, in each cluster's directory, holds the pid of the test process
// that made it; sweepStale removes the directories whose process is gone.
const ownerFile = "owner.pid"

// dirPrefix names the clusters' directories in the temporary directory.
const dirPrefix = "sonevakt-pgtest-"
