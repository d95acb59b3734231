package e2e

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the fault tests read the collector's store itself
)

// The fault tests (faults_*_test.go) break things under the real binaries
// and then read the collector's SQLite file directly, besides the API: the
// store is where "every acked record stored exactly once" and "no duplicate
// deviations" must hold.

// newAgentIn enrolls an agent whose data directory is dir (which may sit
// on a small file system) and writes conf as its configuration.
func newAgentIn(t testing.TB, c *collector, dir, conf string) *agent {
	t.Helper()
	a := &agent{t: t, data: dir}
	out := mustRun(t, "sonevakt-agent", "enroll", "--collector", c.agents, "--token", c.token(), "--data", a.data)
	if _, err := fmt.Sscanf(out, "enrolled as agent %s", &a.id); err != nil {
		t.Fatalf("enroll output %q: %v", out, err)
	}
	a.conf = filepath.Join(t.TempDir(), filepath.Base(dir)+".yaml")
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// store opens the collector's SQLite file read-only; it may run meanwhile
// (WAL lets readers in).
func (c *collector) store() *sql.DB {
	c.t.Helper()
	path := filepath.Join(c.data, "sonevakt.db")
	if _, err := os.Stat(path); err != nil {
		c.t.Fatalf("collector store: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

// stored is what the store holds of one agent's records.
type stored struct {
	Rows, Distinct   int64  // rows in records, distinct seqs
	MinSeq, MaxSeq   uint64 // 0 when none
	Counted          int64  // agent_stats' count, which the hosts list shows
	UpTo             uint64 // the seq the rows were counted up to
	RowsUpTo, Missed int64  // rows with seq <= UpTo; seqs <= UpTo absent
}

// storedRecords reads what the store holds of the agent's records and
// how many of the seqs 1..upTo it holds.
func (c *collector) storedRecords(db *sql.DB, agentID string, upTo uint64) stored {
	c.t.Helper()
	var s stored
	s.UpTo = upTo
	row := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT seq), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0),
		(SELECT COUNT(*) FROM records WHERE agent_id = ?1 AND seq <= ?2),
		COALESCE((SELECT records FROM agent_stats WHERE agent_id = ?1), 0)
		FROM records WHERE agent_id = ?1`, agentID, int64(upTo))
	if err := row.Scan(&s.Rows, &s.Distinct, &s.MinSeq, &s.MaxSeq, &s.RowsUpTo, &s.Counted); err != nil {
		c.t.Fatalf("read stored records of %s: %v", agentID, err)
	}
	s.Missed = int64(upTo) - s.RowsUpTo
	return s
}

// checkExactlyOnce fails unless the store holds every seq up to the
// agent's commit point exactly once, but for the records its spool dropped
// (never sent, so never acked), no seq twice, and agent_stats counts what
// the table holds: a batch resent after a crash was neither lost nor
// counted twice. It returns what it read.
func (c *collector) checkExactlyOnce(db *sql.DB, agentID string, committed, dropped uint64) stored {
	c.t.Helper()
	s := c.storedRecords(db, agentID, committed)
	if uint64(s.Missed) > dropped || s.Rows != s.Distinct || s.Counted != s.Rows || (committed > 0 && s.MinSeq == 0) {
		c.t.Errorf("agent %s: committed 1..%d with %d dropped, store %+v: want every acked seq once and the count to match",
			agentID, committed, dropped, s)
	}
	return s
}

// checkNoDuplicateDeviations fails if any rule and subject has more than
// one open deviation, and returns how many deviations there are by rule.
func (c *collector) checkNoDuplicateDeviations(db *sql.DB) map[string]int {
	c.t.Helper()
	rows, err := db.Query(`SELECT rule, subject, COUNT(*) FROM deviations
		WHERE status IN ('ny', 'under behandling') GROUP BY rule, subject HAVING COUNT(*) > 1`)
	if err != nil {
		c.t.Fatalf("read deviations: %v", err)
	}
	for rows.Next() {
		var rule, subject string
		var n int
		if err := rows.Scan(&rule, &subject, &n); err != nil {
			c.t.Fatal(err)
		}
		c.t.Errorf("%d open deviations of %s for %s, want one", n, rule, subject)
	}
	rows.Close()
	by := map[string]int{}
	rows, err = db.Query(`SELECT rule, COUNT(*) FROM deviations GROUP BY rule`)
	if err != nil {
		c.t.Fatalf("read deviations: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rule string
		var n int
		if err := rows.Scan(&rule, &n); err != nil {
			c.t.Fatal(err)
		}
		by[rule] = n
	}
	return by
}

// finalCheck stops the agent (SIGTERM: what it acked is on disk either
// way), reads its spool and checks the store against it: every acked
// record once, and every record the agent assigned either stored or still
// waiting in its spool, or counted as dropped. It returns the spool status.
func (c *collector) finalCheck(db *sql.DB, a *agent) spoolStatus {
	c.t.Helper()
	a.p.stop()
	st := a.status()
	s := c.checkExactlyOnce(db, a.id, st.Spool.Committed, st.Spool.Dropped)
	last := st.Spool.NextSeq - 1
	all := c.storedRecords(db, a.id, last)
	if uint64(all.Missed) > st.Spool.Records+st.Spool.Dropped {
		c.t.Errorf("agent %s assigned 1..%d; store misses %d of them but only %d wait in the spool and %d were dropped",
			a.id, last, all.Missed, st.Spool.Records, st.Spool.Dropped)
	}
	c.t.Logf("agent %s: acked %d, store %d rows (seq %d..%d), spool %+v", a.id, st.Spool.Committed, s.Rows, s.MinSeq, s.MaxSeq, st.Spool)
	return st
}

// poll calls cond every 100 ms until it holds or d passes, then fails with
// what describes the last state.
func poll(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		ok, desc := cond()
		if ok {
			return
		}
		last = desc
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, d, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agentConf is an agent configuration for the fault tests: health records
// at the given interval, inventories too when inventory is not 0, the
// spool bounded at maxBytes (0: the default), extra YAML appended.
func agentConf(health, inventory time.Duration, maxBytes int64, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "log_level: debug\nintervals:\n  health: %v\n", health)
	if inventory > 0 {
		fmt.Fprintf(&b, "  inventory: %v\n", inventory)
	}
	if maxBytes > 0 {
		fmt.Fprintf(&b, "spool:\n  max_bytes: %d\n", maxBytes)
	}
	for _, e := range extra {
		b.WriteString(e)
		if !strings.HasSuffix(e, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// needRootCI skips a test that needs root, unless CI=true.
func needRootCI(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs root: %s", why)
	}
	t.Skipf("needs root: %s", why)
}
