package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFaultCollectorKilledUnderLoad: several agents report every 50 ms; the
// collector is killed with SIGKILL twice at random moments and restarted on
// the same SQLite file. The agents keep spooling meanwhile; afterwards every
// record each agent had acked is stored exactly once, everything else is
// stored or still spooled, and no rule and subject has two open deviations
// (each agent is an unregistered host, a standing condition recorded again
// by every restarted collector).
func TestFaultCollectorKilledUnderLoad(t *testing.T) {
	c := newCollector(t)
	c.start()
	const n = 5
	agents := make([]*agent, n)
	for i := range agents {
		agents[i] = newAgentIn(t, c, filepath.Join(t.TempDir(), fmt.Sprintf("agent%d", i)), agentConf(50*time.Millisecond, 0, 0))
		agents[i].start()
	}
	mark := make(map[string]uint64, n)
	for round := range 2 {
		for _, a := range agents {
			h := c.waitHost(a.id, 45*time.Second, fmt.Sprintf("round %d: records past %d", round, mark[a.id]+10),
				func(h apiHost) bool { return h.MaxSeq > mark[a.id]+10 })
			mark[a.id] = h.MaxSeq
		}
		// Somewhere inside a batch's life: the agents send every ~50 ms.
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		c.p.kill()
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond) // the agents spool meanwhile
		c.start()
	}
	// Every agent catches up: the store holds each seq from 1 up to past
	// what it had before the last kill, once.
	for _, a := range agents {
		c.waitHost(a.id, 45*time.Second, "catching up after the restarts", func(h apiHost) bool {
			return h.MaxSeq > mark[a.id]+10 && contiguous(h)
		})
	}
	for _, a := range agents {
		if out := a.p.out.String(); strings.Contains(out, "panic:") {
			t.Errorf("agent %s panicked:\n%s", a.id, out)
		}
	}
	db := c.store()
	for _, a := range agents {
		c.finalCheck(db, a)
	}
	by := c.checkNoDuplicateDeviations(db)
	if by["unregistered-host"] != n {
		t.Errorf("deviations by rule %v: want one unregistered-host per agent (%d)", by, n)
	}
}

// TestFaultAgentKilledWithFullSpool: with the collector gone, an agent's
// spool is full (at its 1 MiB bound, oldest records dropped); the agent runs
// on it, dropping more, is killed with SIGKILL, restarts, recovers its spool
// and delivers what it held once the collector is back: every acked record
// once, every record it kept delivered, the dropped ones counted, and the
// drops reported as one spool-dropped deviation. Sensors would take minutes
// to fill 1 MiB, so the test tool spoolfill fills the spool first with the
// real spool code, as the agent would have.
func TestFaultAgentKilledWithFullSpool(t *testing.T) {
	fill := buildTool(t, "spoolfill", "../agent/internal/spool/spoolfill")
	c := newCollector(t)
	c.start()
	const bound = 1 << 20
	a := newAgentIn(t, c, filepath.Join(t.TempDir(), "agent"), agentConf(50*time.Millisecond, 0, bound))
	a.start()
	c.waitHost(a.id, 30*time.Second, "first records", func(h apiHost) bool { return h.MaxSeq >= 3 })
	c.p.kill()
	a.p.stop()

	out, err := exec.Command(fill, filepath.Join(a.data, "spool"), fmt.Sprint(bound)).CombinedOutput()
	if err != nil {
		t.Fatalf("spoolfill: %v: %s", err, out)
	}
	t.Logf("spoolfill: %s", strings.TrimSpace(string(out)))
	before := a.status().Spool
	a.start()
	poll(t, 30*time.Second, "the running agent dropping more at the bound", func() (bool, string) {
		n := strings.Count(a.p.out.String(), "spool full; dropped oldest unacked records")
		return n > 0, fmt.Sprintf("%d drops logged", n)
	})
	a.p.kill()
	st := a.status()
	if st.Spool.Dropped <= before.Dropped || st.Spool.Records == 0 || st.Spool.NextSeq <= before.NextSeq {
		t.Fatalf("spool after kill %+v, before the agent ran %+v: want more records and more dropped", st.Spool, before)
	}
	if size := dirSize(t, filepath.Join(a.data, "spool")); size > bound+64<<10 {
		t.Errorf("spool holds %d bytes on disk, bound %d", size, bound)
	}
	t.Logf("spool at kill: %+v", st.Spool)
	killed := st.Spool

	c.start()
	a.start()
	last := killed.NextSeq - 1
	db := c.store()
	// Everything the spool held at the kill arrives (the dropped records
	// never will).
	poll(t, 45*time.Second, "the records the full spool held delivered", func() (bool, string) {
		s := c.storedRecords(db, a.id, last)
		return uint64(s.Missed) <= killed.Dropped && s.MaxSeq > last, fmt.Sprintf("%+v", s)
	})
	poll(t, 30*time.Second, "a spool-dropped deviation", func() (bool, string) {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM deviations WHERE rule = 'spool-dropped' AND agent_id = ?`, a.id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0, fmt.Sprintf("%d deviations", n)
	})
	fin := c.finalCheck(db, a)
	s := c.storedRecords(db, a.id, last)
	if uint64(s.Missed) != killed.Dropped {
		t.Errorf("store misses %d of seqs 1..%d, the agent dropped %d", s.Missed, last, killed.Dropped)
	}
	if fin.Spool.Dropped < killed.Dropped {
		t.Errorf("dropped count went back from %d to %d over the restart", killed.Dropped, fin.Spool.Dropped)
	}
	if by := c.checkNoDuplicateDeviations(db); by["spool-dropped"] != 1 {
		t.Errorf("deviations by rule %v, want one spool-dropped", by)
	}
}

var tools sync.Map // name -> path, built once per test binary

// buildTool builds a test tool into the binaries' directory once.
func buildTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path := filepath.Join(binDir, name)
	if _, ok := tools.Load(name); ok {
		return path
	}
	if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v: %s", pkg, err, out)
	}
	tools.Store(name, path)
	return path
}

// dirSize sums the sizes of the regular files in dir.
func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range es {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}
