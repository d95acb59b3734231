package pgtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestDSN: each call is a fresh, empty database owned by an unprivileged
// role, on a durable UTF-8 server.
func TestDSN(t *testing.T) {
	ctx := context.Background()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("DSN returned %s twice", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	if _, err := ca.Exec(ctx, `CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Exec(ctx, `INSERT INTO t VALUES (1, 'ein')`); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := ca.QueryRow(ctx, `SELECT v FROM t WHERE id = 1`).Scan(&v); err != nil || v != "ein" {
		t.Fatalf("read back = %q, %v; want ein", v, err)
	}
	var n int
	if err := cb.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("second database has %d tables (%v), want 0", n, err)
	}
	for _, tc := range []struct{ q, want string }{
		{`SHOW fsync`, "on"},
		{`SHOW server_encoding`, "UTF8"},
		{`SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user`, "false"},
		{`SELECT (pg_get_userbyid(datdba) = current_user)::text FROM pg_database WHERE datname = current_database()`, "true"},
	} {
		if os.Getenv(EnvDSN) != "" && tc.want == "false" {
			continue // the role is whatever $SONEVAKT_PG_DSN logs in as
		}
		var got string
		if err := ca.QueryRow(ctx, tc.q).Scan(&got); err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.q, got, err, tc.want)
		}
	}
}

// TestKillStart kills the postmaster in the middle of a transaction and
// starts it again: what was committed is there, what was not is not, and the
// DSN still works.
func TestKillStart(t *testing.T) {
	ctx := context.Background()
	s := NewServer(t)
	c := connect(t, s.DSN())
	if _, err := c.Exec(ctx, `CREATE TABLE t (id BIGINT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `INSERT INTO t SELECT generate_series(1, 1000)`); err != nil {
		t.Fatal(err)
	}
	open := connect(t, s.DSN())
	tx, err := open.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (1001)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Running() {
		t.Error("Running after Kill")
	}
	// The killed server's backends go; nothing answers on the port.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if _, err := c.Exec(cctx, `SELECT 1`); err == nil {
		t.Error("query on a connection to the killed server succeeded")
	}
	cancel()
	if err := tx.Commit(ctx); err == nil {
		t.Error("commit after the kill succeeded")
	}
	if err := s.Kill(); err == nil {
		t.Error("second Kill succeeded")
	}

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("Start of a running server succeeded")
	}
	c2 := connect(t, s.DSN())
	var n, top int64
	if err := c2.QueryRow(ctx, `SELECT count(*), max(id) FROM t`).Scan(&n, &top); err != nil {
		t.Fatal(err)
	}
	if n != 1000 || top != 1000 {
		t.Errorf("after restart: %d rows up to %d, want 1000 up to 1000", n, top)
	}
	// A database handed out before the kill is dropped by its cleanup on the
	// running server; one handed out after works too.
	c3 := connect(t, s.NewDatabase(t))
	if _, err := c3.Exec(ctx, `CREATE TABLE u (x INT)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "data", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
}

// TestEnvDSN: with $SONEVAKT_PG_DSN set, DSN creates its databases there and
// drops them at cleanup.
func TestEnvDSN(t *testing.T) {
	ctx := context.Background()
	s := NewServer(t)
	admin := connect(t, s.AdminDSN())
	databases := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE 'sonevakt\_test\_%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, form := range []string{"url", "keyword"} {
		t.Run(form, func(t *testing.T) {
			env := s.AdminDSN()
			if form == "keyword" {
				env = "host=127.0.0.1 port=" + strconv.Itoa(s.Port()) + " user=postgres password=" + s.password + " dbname=postgres sslmode=disable"
			}
			t.Setenv(EnvDSN, env)
			before := databases()
			dsn := DSN(t)
			c := connect(t, dsn)
			var db string
			if err := c.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil || db == "postgres" {
				t.Fatalf("DSN %s is database %q (%v), want a new one", dsn, db, err)
			}
			if n := databases(); n != before+1 {
				t.Errorf("%d test databases, want %d", n, before+1)
			}
		})
	}
	if n := databases(); n != 0 {
		t.Errorf("%d test databases left after cleanup, want 0", n)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p%40ss@db.example:5432/postgres?sslmode=verify-full", "postgres://u:p%40ss@db.example:5432/x?sslmode=verify-full"},
		{"postgresql://u@h/", "postgresql://u@h/x"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=x"},
	} {
		got, err := withDatabase(tc.in, "x")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if cfg, err := pgconn.ParseConfig(got); err != nil || cfg.Database != "x" {
			t.Errorf("withDatabase(%q): database %v, %v; want x", tc.in, cfg, err)
		}
	}
}
