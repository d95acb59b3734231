package spool

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// smallTmpfs mounts a tmpfs of size bytes on a directory of the test and
// unmounts it when the test ends: a real file system that really fills. It
// needs root; without, the test is skipped, except under CI=true.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if os.Geteuid() != 0 {
		fail("needs root to mount a small tmpfs to fill")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		fail("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Logf("unmount %s: %v; detaching it", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// freeBytes returns the bytes free on dir's file system.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bfree) * st.Bsize
}

// TestFullTmpfs fills a real 4 MiB tmpfs with the spool's own segments
// (appending until the file system refuses, each refused record counted as
// dropped), then commits everything: the state write needs no space, so the
// acked segments are removed, the space returns and appends work again.
func TestFullTmpfs(t *testing.T) {
	// The bound is far away: the disk fills first. With 8 MiB segments the
	// one being written is what fills it.
	for _, segBytes := range []int64{256 << 10, 8 << 20} {
		t.Run(fmt.Sprintf("segments of %d KiB", segBytes>>10), func(t *testing.T) {
			fillTmpfs(t, Options{MaxBytes: 64 << 20, SegmentBytes: segBytes})
		})
	}
}

func fillTmpfs(t *testing.T, opts Options) {
	fs := smallTmpfs(t, "4m")
	dir := filepath.Join(fs, "spool")
	s := mustOpen(t, dir, opts)

	body := make([]byte, 5000)
	rec := func() wire.Record {
		rand.Read(body)
		return wire.Record{Kind: wire.KindMedia, ObservedAt: 1, Body: body}
	}
	var appended, refused uint64
	for refused < 5 {
		if appended > 2000 {
			t.Fatalf("%d records of 5 KB appended to a 4 MiB file system without a refusal", appended)
		}
		_, err := s.Append(rec())
		switch {
		case err == nil && refused == 0:
			appended++
		case err == nil:
			t.Fatalf("Append worked after %d refusals on a full disk", refused)
		case diskFull(err):
			refused++
		default:
			t.Fatalf("Append after %d records = %v, want a disk-full error", appended, err)
		}
	}
	full := freeBytes(t, fs)
	if full > 16<<10 {
		t.Fatalf("%d bytes still free after appends were refused", full)
	}
	st := s.Stats()
	if st.Dropped != refused || st.NextSeq != appended+1 || st.Records != appended {
		t.Errorf("full disk: %+v, want Dropped %d, NextSeq %d, Records %d", st, refused, appended+1, appended)
	}
	segs := len(segFiles(t, dir))

	rs := leaseAll(t, s)
	if uint64(len(rs)) != appended {
		t.Fatalf("leased %d records, want %d", len(rs), appended)
	}
	if err := s.Commit(rs[len(rs)-1].Seq); err != nil {
		t.Fatalf("Commit on a full disk = %v", err)
	}
	left := len(segFiles(t, dir))
	free := freeBytes(t, fs)
	if left > 1 || free < 3<<20 {
		t.Errorf("after Commit: %d of %d segment files left, %d bytes free; want at most the active one and over 3 MiB free", left, segs, free)
	}
	for i := range 100 {
		if _, err := s.Append(rec()); err != nil {
			t.Fatalf("Append %d after the commit freed the disk = %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, opts)
	if st := s.Stats(); st.Committed != appended || st.Dropped != refused || st.NextSeq != appended+101 || st.Records != 100 {
		t.Errorf("reopened: %+v, want Committed %d, Dropped %d, NextSeq %d, Records 100", st, appended, refused, appended+101)
	}
	t.Logf("%d records (%d segment files) filled the disk to %d bytes free; %d refused; after the commit %d bytes free",
		appended, segs, full, refused, free)
}
