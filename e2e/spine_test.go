package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/pki"
)

// TestHostAppears: token, enroll, run; the host shows up in /api/v1/hosts with
// this machine's hostname and MACs.
func TestHostAppears(t *testing.T) {
	c := newCollector(t)
	c.start()
	a := newAgent(t, c, "agent")
	a.start()

	host, _ := os.Hostname()
	h := c.waitHost(a.id, 15*time.Second, "facts", func(h apiHost) bool { return h.Facts != nil })
	if h.Hostname != host || h.Facts.Hostname != host {
		t.Errorf("hostname = %q (facts %q), want %q", h.Hostname, h.Facts.Hostname, host)
	}
	got := map[string]bool{}
	for _, i := range h.Facts.Interfaces {
		got[i.MAC] = true
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) == 0 {
			continue
		}
		want++
		if !got[i.HardwareAddr.String()] {
			t.Errorf("MAC %s of %s missing from reported facts %v", i.HardwareAddr, i.Name, got)
		}
	}
	t.Logf("host %s reported with %d MACs", host, want)
	if out := a.p.out.String(); strings.Contains(out, "level=ERROR") {
		t.Errorf("agent logged errors on a healthy run:\n%s", out)
	}
	// Graceful stop loses nothing: everything the agent appended gets acked.
	a.p.stop()
	st := a.status()
	if st.Spool.Committed != st.Spool.NextSeq-1 || st.Spool.Records != 0 {
		// Not necessarily everything is acked at SIGTERM; what is not must still be spooled.
		if st.Spool.Records != st.Spool.NextSeq-1-st.Spool.Committed {
			t.Errorf("after stop: spool %+v does not account for every record", st.Spool)
		}
	}
}

var faultLine = regexp.MustCompile(`FAULT hold-before-ack agent=(\w+) first=(\d+) last=(\d+)`)

// TestCollectorKilledBeforeAck: the collector commits a batch, is killed before
// it acks, and restarts; the agent resends and every record is stored once.
func TestCollectorKilledBeforeAck(t *testing.T) {
	c := newCollector(t)
	c.start("SONEVAKT_FAULT=hold-before-ack")
	a := newAgent(t, c, "agent")
	a.start()

	m := faultLine.FindStringSubmatch(c.p.waitFor("FAULT hold-before-ack", 15*time.Second))
	if m == nil || m[1] != a.id {
		t.Fatalf("fault line %v does not name agent %s", m, a.id)
	}
	last, _ := strconv.ParseUint(m[3], 10, 64)
	c.p.kill()

	// The agent notices the dead connection at once when the new collector
	// answers its packets with a stateless reset, and at the latest when its
	// ack timeout (20 s) runs out: QUIC sends no reset for packets as small as
	// a bare keep-alive.
	c.start()
	h := c.waitHost(a.id, 60*time.Second, "every record up to the held batch and beyond", func(h apiHost) bool {
		return h.MaxSeq > last && contiguous(h)
	})
	t.Logf("held batch ended at %d; after restart the store holds %d records, seq %d..%d", last, h.Records, h.MinSeq, h.MaxSeq)
	if !strings.Contains(a.p.out.String(), "connection to collector lost") {
		t.Errorf("agent log does not show the lost connection it recovered from")
	}
}

// TestAgentKilledWhileCollectorDown: records spooled while the collector is
// down survive SIGKILL of the agent and arrive once after both restart.
func TestAgentKilledWhileCollectorDown(t *testing.T) {
	c := newCollector(t)
	c.start()
	a := newAgent(t, c, "agent")
	a.start()
	c.waitHost(a.id, 15*time.Second, "first records", func(h apiHost) bool { return h.MaxSeq >= 3 })

	c.p.kill()
	time.Sleep(1500 * time.Millisecond) // health every 100 ms: ~15 records spooled
	a.p.kill()

	st := a.status()
	lastSeq := st.Spool.NextSeq - 1
	if st.Spool.Records == 0 || st.Spool.Committed >= lastSeq {
		t.Fatalf("expected records waiting in the spool, got %+v", st.Spool)
	}
	t.Logf("spool after kill: %d records waiting, committed %d, last %d", st.Spool.Records, st.Spool.Committed, lastSeq)

	c.start()
	a.start()
	h := c.waitHost(a.id, 30*time.Second, "every spooled record", func(h apiHost) bool {
		return h.MaxSeq >= lastSeq && contiguous(h)
	})
	if h.Records < int64(lastSeq) {
		t.Errorf("store holds %d records, the agent had assigned %d", h.Records, lastSeq)
	}
}

// TestCertificateRenewal: with short-lived agent certificates the agent renews
// over mTLS before two thirds of the life, and after the first certificate has
// expired a restarted collector still accepts the agent.
func TestCertificateRenewal(t *testing.T) {
	c := newCollector(t)
	conf := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(conf, []byte("data_dir: "+c.data+"\nagent_cert_ttl: 6s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = []string{"--config", conf}
	c.start()
	a := newAgent(t, c, "agent")
	first, err := pki.LoadCert(filepath.Join(a.data, "identity", "agent.crt"))
	if err != nil {
		t.Fatal(err)
	}
	a.start()
	a.p.waitFor("certificate renewed", 15*time.Second)
	renewed, err := pki.LoadCert(filepath.Join(a.data, "identity", "agent.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("agent.crt on disk was not replaced")
	}
	// Past the first certificate's end, a new connection must use a renewed one.
	time.Sleep(time.Until(first.NotAfter) + time.Second)
	c.p.kill()
	c.start()
	seen := c.waitHost(a.id, 40*time.Second, "records after the first certificate expired", func(h apiHost) bool { return h.Records > 0 })
	mark := seen.MaxSeq
	c.waitHost(a.id, 40*time.Second, "new records over a connection made with a renewed certificate", func(h apiHost) bool {
		return h.MaxSeq > mark+3 && contiguous(h)
	})
	if strings.Contains(c.p.out.String(), "agent refused") {
		t.Errorf("collector refused the agent after renewal:\n%s", c.p.out.String())
	}
}
