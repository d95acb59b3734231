//go:build linux

// The disk fault tests mount a small tmpfs: Linux only.

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallFS mounts a tmpfs of the given size on a directory of the test and
// unmounts it when the test ends: a real file system that really fills.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	needRootCI(t, "mounts a small tmpfs to fill")
	dir := filepath.Join(t.TempDir(), "smallfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; detaching it", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fillDisk writes a file on dir's file system until it is full and returns
// its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return path
		}
	}
}

// TestFaultAgentDiskFull: the disk under an agent's data directory fills up
// (a tmpfs of 8 MiB, filled by another file) while it runs. The agent does
// not crash; records it cannot spool are counted as dropped; once space is
// back it delivers, its health records report the drops, and the collector
// opens one spool-dropped deviation for them. Every acked record is stored
// once; no seq was spent on a record that was never written.
func TestFaultAgentDiskFull(t *testing.T) {
	fs := smallFS(t, "8m")
	c := newCollector(t)
	c.start()
	a := newAgentIn(t, c, filepath.Join(fs, "agent"), agentConf(50*time.Millisecond, 0, 4<<20))
	a.start()
	c.waitHost(a.id, 30*time.Second, "first records", func(h apiHost) bool { return h.MaxSeq >= 3 })

	filler := fillDisk(t, fs)
	const lost = "spool append failed; record lost"
	poll(t, 30*time.Second, "records lost to the full disk", func() (bool, string) {
		n := strings.Count(a.p.out.String(), "no space left on device")
		return n >= 10, fmt.Sprintf("%d writes refused for want of space", n)
	})
	select {
	case <-a.p.done:
		t.Fatalf("agent exited on a full disk:\n%s", a.p.out.String())
	default:
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	lostLines := strings.Count(a.p.out.String(), lost)

	db := c.store()
	var id, dropped string
	poll(t, 30*time.Second, "a spool-dropped deviation for the agent", func() (bool, string) {
		err := db.QueryRow(`SELECT id, json_extract(facts, '$.dropped') FROM deviations WHERE rule = 'spool-dropped' AND agent_id = ?`, a.id).Scan(&id, &dropped)
		return err == nil, fmt.Sprint(err)
	})
	h := c.waitHost(a.id, 30*time.Second, "delivery after the disk has room again", func(h apiHost) bool {
		return contiguous(h) && h.MaxSeq > 10
	})
	st := c.finalCheck(db, a)
	if n, _ := strconv.ParseUint(dropped, 10, 64); n == 0 || n > st.Spool.Dropped {
		t.Errorf("deviation %s counts %q dropped, the spool %d", id, dropped, st.Spool.Dropped)
	}
	// Every refused append was counted, and none spent a seq: the store is
	// contiguous up to the commit point.
	if st.Spool.Dropped < uint64(lostLines) || st.Spool.Dropped == 0 {
		t.Errorf("the agent logged %d lost records, its spool counts %d dropped", lostLines, st.Spool.Dropped)
	}
	if s := c.storedRecords(db, a.id, st.Spool.Committed); s.Missed != 0 {
		t.Errorf("store misses %d of the acked seqs 1..%d: %+v", s.Missed, st.Spool.Committed, s)
	}
	if by := c.checkNoDuplicateDeviations(db); by["spool-dropped"] != 1 {
		t.Errorf("deviations by rule %v, want one spool-dropped", by)
	}
	t.Logf("deviation %s: %s dropped; host %d records; %d lost lines", id, dropped, h.Records, lostLines)
}

// TestFaultAgentSpoolFillsDisk: the agent's own spool is what fills the
// disk (the collector is away and the bound is above the file system's
// size; spoolfill appends with the real spool code until the disk refuses).
// Nothing else frees space. Once the collector is back, the agent's commits
// must work on the full disk and remove the acked segments: it delivers
// everything it held, then new records, every acked one stored once.
func TestFaultAgentSpoolFillsDisk(t *testing.T) {
	fill := buildTool(t, "spoolfill", "../agent/internal/spool/spoolfill")
	fs := smallFS(t, "8m")
	c := newCollector(t)
	c.start()
	a := newAgentIn(t, c, filepath.Join(fs, "agent"), agentConf(50*time.Millisecond, 0, 64<<20))
	a.start()
	c.waitHost(a.id, 30*time.Second, "first records", func(h apiHost) bool { return h.MaxSeq >= 3 })
	c.p.kill()
	a.p.stop()

	out, err := exec.Command(fill, filepath.Join(a.data, "spool"), fmt.Sprint(64<<20)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no space left on device") {
		t.Fatalf("spoolfill with a bound above the disk: %v: %s; want it stopped by a full disk", err, out)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(fs, &sfs); err != nil {
		t.Fatal(err)
	}
	if free := int64(sfs.Bfree) * sfs.Bsize; free > 16<<10 {
		t.Fatalf("%d bytes free after spoolfill; want a full disk", free)
	}
	before := a.status().Spool
	t.Logf("spool on the full disk: %+v", before)

	c.start()
	a.start()
	h := c.waitHost(a.id, 60*time.Second, "the spool delivered and new records after it", func(h apiHost) bool {
		return contiguous(h) && h.MaxSeq > before.NextSeq+5
	})
	if err := syscall.Statfs(fs, &sfs); err != nil {
		t.Fatal(err)
	}
	if free := int64(sfs.Bfree) * sfs.Bsize; free < 4<<20 {
		t.Errorf("%d bytes free after delivery; the acked segments were not removed", free)
	}
	db := c.store()
	st := c.finalCheck(db, a)
	if st.Spool.Committed < before.NextSeq {
		t.Errorf("commit point %d, want past the %d records the spool held", st.Spool.Committed, before.NextSeq-1)
	}
	t.Logf("host %d records up to seq %d", h.Records, h.MaxSeq)
}
