package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/internal/pgtest"
)

// TestPostgresKilledDuringIngest: PostgreSQL is killed with SIGKILL while an
// agent reports to a collector on it. The collector stays up and refuses
// batches (it acks nothing it could not store); the agent keeps spooling;
// once PostgreSQL is back (crash recovery) the collector stores again and
// the agent catches up. Every seq from 1 on is then stored exactly once.
func TestPostgresKilledDuringIngest(t *testing.T) {
	pg := pgtest.NewServer(t)
	c := newCollector(t)
	c.dsn = pg.DSN()
	c.start()
	a := newAgent(t, c, "agent")
	conf := "log_level: debug\nintervals:\n  health: 50ms\nsensors:\n  media: false\n  traffic: false\n  sockets: false\n"
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start()
	before := c.waitHost(a.id, 30*time.Second, "first records stored", func(h apiHost) bool { return h.Records >= 20 })

	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	// The collector refuses what it cannot store (the agent's log names the
	// refusal) and stays up; the agent keeps spooling.
	a.p.waitFor("retry later", 30*time.Second)
	time.Sleep(2 * time.Second) // 40 more health records pile up
	select {
	case <-c.p.done:
		t.Fatalf("collector exited while PostgreSQL was down:\n%s", c.p.out.String())
	default:
	}
	if _, err := c.hosts(); err == nil {
		t.Error("GET /api/v1/hosts answered while PostgreSQL was down")
	}

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	// 2 s at 20 records a second were spooled while PostgreSQL was down.
	c.waitHost(a.id, 90*time.Second, "caught up after PostgreSQL came back", func(h apiHost) bool {
		return h.MaxSeq >= before.MaxSeq+40 && contiguous(h)
	})
	a.p.stop()
	st := a.status().Spool
	h := c.waitHost(a.id, 10*time.Second, "stored what the agent committed", func(h apiHost) bool { return h.MaxSeq >= st.Committed })
	if !contiguous(h) {
		t.Errorf("host %+v: records not stored exactly once from seq 1", h)
	}
	if st.Committed+st.Records != st.NextSeq-1 {
		t.Errorf("agent spool %+v: committed and waiting records do not add up to every seq", st)
	}
	if strings.Contains(c.p.out.String(), "panic") {
		t.Errorf("collector panicked:\n%s", c.p.out.String())
	}
}
