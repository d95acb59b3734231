package sqlstore

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/storetest"
	"github.com/sonevakt/sonevakt/internal/pgtest"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The PostgreSQL dialect passes the same suite as SQLite, on a real server
// (internal/pgtest starts one from Debian's packages, or uses
// $SONEVAKT_PG_DSN), each test on a fresh database.

func openPG(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := OpenPostgres(t.Context(), dsn, testLogger(t))
	if err != nil {
		t.Fatalf("OpenPostgres = %v", err)
	}
	return db
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) model.Store { return openPG(t, pgtest.DSN(t)) })
}

func TestPostgresConformanceHandles(t *testing.T) {
	storetest.RunHandles(t, func(t *testing.T) func() model.Store {
		dsn := pgtest.DSN(t)
		return func() model.Store { return openPG(t, dsn) }
	})
}

// TestPostgresChangeFeed: what one replica publishes, another hears, and
// not itself; SQLite has no feed.
func TestPostgresChangeFeed(t *testing.T) {
	dsn := pgtest.DSN(t)
	one, two := openPG(t, dsn), openPG(t, dsn)
	defer one.Close()
	defer two.Close()
	in1, in2 := one.Changes(), two.Changes()
	// Each listener says "*" (anything may have changed) once it listens.
	for i, in := range []<-chan []string{in1, in2} {
		select {
		case got := <-in:
			if !slices.Equal(got, []string{"*"}) {
				t.Fatalf("listener %d: first delivery %q, want [*]", i+1, got)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("listener %d did not start within 20 s", i+1)
		}
	}
	if err := one.PublishChange(t.Context(), []string{"hosts", "map"}); err != nil {
		t.Fatalf("PublishChange = %v", err)
	}
	select {
	case got := <-in2:
		if !slices.Equal(got, []string{"hosts", "map"}) {
			t.Errorf("replica two heard %q, want [hosts map]", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("replica two heard nothing within 20 s")
	}
	select {
	case got := <-in1:
		t.Errorf("replica one heard its own change %q", got)
	case <-time.After(300 * time.Millisecond):
	}

	lite := mustOpen(t, t.TempDir()+"/s.db")
	if lite.Changes() != nil {
		t.Error("SQLite store has a change feed")
	}
	if err := lite.PublishChange(t.Context(), []string{"hosts"}); err != nil {
		t.Errorf("SQLite PublishChange = %v, want nil (nothing to tell)", err)
	}
}

// TestPostgresTextWithNUL: PostgreSQL's text cannot hold a NUL byte, which
// an agent may well report; the batch is stored all the same, the name with
// U+FFFD in the NUL's place and the record as it was sent.
func TestPostgresTextWithNUL(t *testing.T) {
	db := openPG(t, pgtest.DSN(t))
	defer db.Close()
	ctx := t.Context()
	now := time.Now().UTC()
	if err := db.CreateAgent(ctx, model.Agent{ID: "ag", Fingerprint: "fp", Hostname: "pc", EnrolledAt: now}); err != nil {
		t.Fatal(err)
	}
	rec, err := wire.NewRecord(wire.KindHello, now, wire.Hello{Version: 1, Hostname: "pc\x00evil"})
	if err != nil {
		t.Fatal(err)
	}
	rec.Seq = 1
	b := model.IngestBatch{AgentID: "ag", ReceivedAt: now, Records: []wire.Record{rec},
		Hello: &wire.Hello{Version: 1, Hostname: "pc\x00evil"}}
	if _, err := db.Ingest(ctx, b); err != nil {
		t.Fatalf("Ingest(hostname with NUL) = %v", err)
	}
	a, err := db.GetAgent(ctx, "ag")
	if err != nil {
		t.Fatal(err)
	}
	if a.Hostname != "pc\uFFFDevil" {
		t.Errorf("hostname %q, want %q", a.Hostname, "pc\uFFFDevil")
	}
	got, err := db.Records(ctx, "ag", 0, 10)
	if err != nil || len(got) != 1 || string(got[0].Body) != string(rec.Body) {
		t.Errorf("Records = %v, %v; want the record as sent", got, err)
	}
}

// TestPostgresReadersReadOnly: the reader pool cannot write, like SQLite's
// query_only readers.
func TestPostgresReadersReadOnly(t *testing.T) {
	db := openPG(t, pgtest.DSN(t))
	defer db.Close()
	_, err := db.r.ExecContext(t.Context(), "INSERT INTO deviation_seq (year, n) VALUES (?, 1)", 2026)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("write through the reader pool = %v, want a read-only error", err)
	}
}

// BenchmarkIngestPostgres and BenchmarkIngestAgentsPostgres are
// BenchmarkIngest and BenchmarkIngestAgents on PostgreSQL.
func BenchmarkIngestPostgres(b *testing.B) {
	db := openPGB(b)
	defer db.Close()
	benchIngest(b, db)
}

func BenchmarkIngestAgentsPostgres(b *testing.B) {
	db := openPGB(b)
	defer db.Close()
	benchIngestAgents(b, db)
}

func BenchmarkIngestManyAgentsPostgres(b *testing.B) {
	db := openPGB(b)
	defer db.Close()
	benchIngestMany(b, db)
}

func openPGB(b *testing.B) *DB {
	db, err := OpenPostgres(b.Context(), pgtest.DSN(b), testLogger(b))
	if err != nil {
		b.Fatalf("OpenPostgres = %v", err)
	}
	return db
}

func TestDollarPlaceholders(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{"SELECT '?', ? -- what?\n, \"a?b\", ?", "SELECT '?', $1 -- what?\n, \"a?b\", $2"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"SELECT a - ? FROM t WHERE b = ?", "SELECT a - $1 FROM t WHERE b = $2"},
		{"SELECT 'open ?", "SELECT 'open ?"},
	} {
		if got := dollarPlaceholders(c.in); got != c.want {
			t.Errorf("dollarPlaceholders(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestGlobToLike(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"*fire*", "%fire%"},
		{"*a[?]b*", "%a?b%"},
		{"*50%_off[[]x*", `%50\%\_off[x%`},
		{"libc?", "libc_"},
		{`*back\slash*`, `%back\\slash%`},
	} {
		if got := globToLike(c.in); got != c.want {
			t.Errorf("globToLike(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
