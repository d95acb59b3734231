package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/storetest"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// mustOpen opens a store at path and closes it when the test ends.
func mustOpen(t testing.TB, path string) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), path, testLogger(t))
	if err != nil {
		t.Fatalf("OpenSQLite(%s) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) model.Store {
		db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "sonevakt.db"), testLogger(t))
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		return db
	})
}

func TestConformanceHandles(t *testing.T) {
	storetest.RunHandles(t, func(t *testing.T) func() model.Store {
		path := filepath.Join(t.TempDir(), "sonevakt.db")
		return func() model.Store {
			db, err := OpenSQLite(t.Context(), path, testLogger(t))
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			return db
		}
	})
}

func TestMigrationsNumbered(t *testing.T) {
	ms, err := migrations(SQLite)
	if err != nil {
		t.Fatalf("migrations(SQLite) = %v", err)
	}
	if len(ms) == 0 || ms[0].name != "0001_init" {
		t.Fatalf("migrations(SQLite) = %d, first %q; want 0001_init first", len(ms), ms[0].name)
	}
	if SchemaVersion() != len(ms) {
		t.Errorf("SchemaVersion() = %d, want %d", SchemaVersion(), len(ms))
	}
	// PostgreSQL starts from a baseline at some SQLite version and must end
	// at the same one: a schema version means one schema in both dialects.
	pg, err := migrations(Postgres)
	if err != nil {
		t.Fatalf("migrations(Postgres) = %v", err)
	}
	if last := pg[len(pg)-1].version; last != SchemaVersion() {
		t.Errorf("newest PostgreSQL migration is %d, SQLite's %d: add the migration to both dialects", last, SchemaVersion())
	}
}

func TestMigrationsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	for range 2 { // the second open applies nothing
		db, err := OpenSQLite(t.Context(), path, testLogger(t))
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		rows, err := db.r.Query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var v int
			var name string
			var appliedAt int64
			if err := rows.Scan(&v, &name, &appliedAt); err != nil {
				t.Fatal(err)
			}
			if appliedAt <= 0 {
				t.Errorf("migration %d applied_at = %d, want a time", v, appliedAt)
			}
			got = append(got, fmt.Sprintf("%d:%s", v, name))
		}
		rows.Close()
		ms, _ := migrations(SQLite)
		var want []string
		for _, m := range ms {
			want = append(want, fmt.Sprintf("%d:%s", m.version, m.name))
		}
		if !slicesEqual(got, want) {
			t.Errorf("schema_migrations = %v, want %v", got, want)
		}
		db.Close()
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := OpenSQLite(t.Context(), path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	future := SchemaVersion() + 1
	if _, err := db.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 1)`, future); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = OpenSQLite(t.Context(), path, testLogger(t))
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a schema-%d file = %v, want ErrSchemaTooNew", future, err)
	}
	for _, want := range []string{strconv.Itoa(future), strconv.Itoa(SchemaVersion()), "newer sonevakt-collector"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	db := mustOpen(t, path)
	a := model.Agent{ID: "ag", Fingerprint: "fp", EnrolledAt: time.Unix(1, 0)}
	if err := db.CreateAgent(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode of %s = %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}

	// An existing file readable by others is tightened.
	loose := filepath.Join(dir, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, loose)
	if st, err := os.Stat(loose); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode of a 0644 file after Open = %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenSQLite(t.Context(), filepath.Join(dir, "missing", "s.db"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory = %v, want ErrNotExist", err)
	}
	if _, err := OpenSQLite(t.Context(), filepath.Join(dir, "s.db?mode=ro"), nil); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("Open with '?' in the path = %v, want ErrInvalid", err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(t.Context(), junk, nil); err == nil {
		t.Errorf("Open of a file that is no database = nil error")
	}
}

func TestAuditAppendOnlyTriggers(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	seq, err := db.AppendAudit(t.Context(), model.AuditEvent{At: time.Unix(1, 0), Actor: "system", Action: "test.event", Subject: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE audit_log SET detail = 'forged' WHERE seq = ` + strconv.FormatInt(seq, 10),
		`UPDATE audit_log SET seq = seq + 100`,
		`DELETE FROM audit_log WHERE seq = ` + strconv.FormatInt(seq, 10),
		`DELETE FROM audit_log`,
	} {
		_, err := db.w.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want an append-only refusal", q, err)
		}
	}
	es, err := db.ListAudit(t.Context(), 0, 10)
	if err != nil || len(es) != 1 || es[0].Seq != seq || es[0].Detail != "" {
		t.Errorf("ListAudit after refused changes = %+v, %v; want the one event untouched", es, err)
	}
}

// TestTwoHandles opens one file twice, as a CLI does beside a running server,
// and writes through both at once.
func TestTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	server := mustOpen(t, path)
	cli := mustOpen(t, path)
	ctx := t.Context()
	if err := server.CreateAgent(ctx, model.Agent{ID: "ag", Fingerprint: "fp", Hostname: "pc", EnrolledAt: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.GetAgent(ctx, "ag"); err != nil {
		t.Fatalf("second handle does not see the agent: %v", err)
	}

	const batches, per, tokens = 40, 100, 40
	var wg sync.WaitGroup
	wg.Go(func() {
		for k := range batches {
			recs := records(uint64(k*per+1), per)
			if _, err := server.Ingest(ctx, model.IngestBatch{AgentID: "ag", ReceivedAt: time.Unix(2, 0), Records: recs}); err != nil {
				t.Errorf("Ingest through the first handle = %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range tokens {
			tok := model.EnrollToken{ID: fmt.Sprintf("tok%d", i), SecretHash: []byte{1}, CreatedAt: time.Unix(int64(i+1), 0),
				ExpiresAt: time.Unix(1<<40, 0), MaxUses: 1, UsesLeft: 1}
			if err := cli.CreateEnrollToken(ctx, tok); err != nil {
				t.Errorf("CreateEnrollToken through the second handle = %v", err)
				return
			}
			if _, err := cli.AppendAudit(ctx, model.AuditEvent{At: time.Unix(3, 0), Actor: "cli", Action: "enroll.token.create", Subject: tok.ID}); err != nil {
				t.Errorf("AppendAudit through the second handle = %v", err)
				return
			}
		}
	})
	wg.Wait()

	ts, err := server.ListEnrollTokens(ctx)
	if err != nil || len(ts) != tokens {
		t.Errorf("first handle lists %d tokens, %v; want %d", len(ts), err, tokens)
	}
	h, err := cli.GetHost(ctx, "ag")
	if err != nil || h.Records != batches*per {
		t.Errorf("second handle sees %d records, %v; want %d", h.Records, err, batches*per)
	}
}

// TestTwoProcesses runs a second process on the same file while this one
// ingests: the CLI-beside-the-server case across real process boundaries.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	path := filepath.Join(t.TempDir(), "s.db")
	db := mustOpen(t, path)
	ctx := t.Context()
	if err := db.CreateAgent(ctx, model.Agent{ID: "ag", Fingerprint: "fp", EnrolledAt: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	const tokens = 30
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "SONEVAKT_STORE_HELPER="+path, "SONEVAKT_STORE_HELPER_N="+strconv.Itoa(tokens))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var seq uint64
	ingested := 0
loop:
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("helper process: %v\n%s", err, out.String())
			}
			break loop
		default:
		}
		recs := records(seq+1, 200)
		res, err := db.Ingest(ctx, model.IngestBatch{AgentID: "ag", ReceivedAt: time.Unix(2, 0), Records: recs})
		if err != nil {
			t.Fatalf("Ingest beside another process = %v", err)
		}
		seq = res.MaxSeq
		ingested += res.Inserted
		// A real collector has gaps between batches (network, decoding);
		// without any, SQLite's polling busy handler lets the other
		// process starve for the lock.
		time.Sleep(time.Millisecond)
	}
	ts, err := db.ListEnrollTokens(ctx)
	if err != nil || len(ts) != tokens {
		t.Errorf("tokens written by the other process = %d, %v; want %d", len(ts), err, tokens)
	}
	h, err := db.GetHost(ctx, "ag")
	if err != nil || h.Records != int64(ingested) {
		t.Errorf("records = %d, %v; want %d", h.Records, err, ingested)
	}
}

// TestHelperProcess is the second process of TestTwoProcesses.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("SONEVAKT_STORE_HELPER")
	if path == "" {
		t.Skip("helper for TestTwoProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("SONEVAKT_STORE_HELPER_N"))
	db := mustOpen(t, path)
	for i := range n {
		tok := model.EnrollToken{ID: fmt.Sprintf("p%d", i), SecretHash: []byte{1}, CreatedAt: time.Unix(int64(i+1), 0),
			ExpiresAt: time.Unix(1<<40, 0), MaxUses: 1, UsesLeft: 1}
		if err := db.CreateEnrollToken(t.Context(), tok); err != nil {
			t.Fatalf("CreateEnrollToken in the helper process = %v", err)
		}
		if _, err := db.GetAgent(t.Context(), "ag"); err != nil {
			t.Fatalf("GetAgent in the helper process = %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReopen checks that what was committed is there after close and reopen.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	ctx := t.Context()
	db, err := OpenSQLite(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	enrolled := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) // nanoseconds survive in SQLite
	if err := db.CreateAgent(ctx, model.Agent{ID: "ag", Fingerprint: "fp", Hostname: "pc", EnrolledAt: enrolled}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{0xa5}, wire.MaxRecordSize)
	recs := append(records(1, 99), wire.Record{Seq: 100, Kind: wire.KindInventory, ObservedAt: 7, Body: big})
	if _, err := db.Ingest(ctx, model.IngestBatch{AgentID: "ag", ReceivedAt: enrolled, Records: recs,
		Facts: &wire.Host{Hostname: "pc", OS: "linux"}, FactsAt: enrolled}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPolicy(ctx, wire.Policy{Version: 2, HealthInterval: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendAudit(ctx, model.AuditEvent{At: enrolled, Actor: "system", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpen(t, path)
	a, err := db.GetAgent(ctx, "ag")
	if err != nil || !a.EnrolledAt.Equal(enrolled) || a.EnrolledAt.Nanosecond() != 6 {
		t.Errorf("after reopen: GetAgent = %+v, %v; want EnrolledAt %v", a, err, enrolled)
	}
	h, err := db.GetHost(ctx, "ag")
	if err != nil || h.Records != 100 || h.MaxSeq != 100 || h.Facts == nil || h.Facts.Hostname != "pc" {
		t.Errorf("after reopen: GetHost = %+v, %v", h, err)
	}
	got, err := db.Records(ctx, "ag", 99, 10)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Body, big) {
		t.Errorf("after reopen: the 4 MiB record is %d records, %v", len(got), err)
	}
	if p, err := db.CurrentPolicy(ctx); err != nil || p.Version != 2 {
		t.Errorf("after reopen: CurrentPolicy = %+v, %v; want version 2", p, err)
	}
	if es, err := db.ListAudit(ctx, 0, 10); err != nil || len(es) != 2 { // policy.set and x
		t.Errorf("after reopen: ListAudit = %d events, %v; want 2", len(es), err)
	}
}

func TestPragmas(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"}, // FULL
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "10000"},
		{"reader", "foreign_keys", "1"},
		{"reader", "busy_timeout", "10000"},
		{"reader", "query_only", "1"},
	} {
		pool := db.w
		if tc.pool == "reader" {
			pool = db.r
		}
		var got string
		if err := pool.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s PRAGMA %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
}

// records returns n small records from seq first.
func records(first uint64, n int) []wire.Record {
	recs, err := SampleRecords(first, n, time.Unix(1_767_225_600, 0))
	if err != nil {
		panic(err)
	}
	return recs
}
