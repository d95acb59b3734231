package spool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// slotsOf decodes both slots of the format-2 state file in dir.
func slotsOf(tb testing.TB, dir string) (b []byte, sts [2]state, gens [2]uint64, oks [2]bool) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) != stateFileSize {
		tb.Fatalf("state file is %d bytes, want %d", len(b), stateFileSize)
	}
	for i := range 2 {
		sts[i], gens[i], oks[i] = unmarshalSlot(b[i*stateSlotSize:])
	}
	return b, sts, gens, oks
}

// TestStateFilePreallocated: a new spool has its state file at full size at
// once, and commits alternate between the two slots in place.
func TestStateFilePreallocated(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	fi, err := os.Stat(filepath.Join(dir, stateName))
	if err != nil {
		t.Fatalf("no state file after Open: %v", err)
	}
	if fi.Size() != stateFileSize {
		t.Errorf("state file is %d bytes, want %d", fi.Size(), stateFileSize)
	}
	appendN(t, s, 5, 10)
	for q := uint64(1); q <= 5; q++ {
		if err := s.Commit(q); err != nil {
			t.Fatal(err)
		}
		_, sts, gens, oks := slotsOf(t, dir)
		newest := 0
		if !oks[0] || (oks[1] && gens[1] > gens[0]) {
			newest = 1
		}
		if !oks[newest] || sts[newest].Committed != q {
			t.Fatalf("after Commit(%d): newest slot %d = %+v (valid %v)", q, newest, sts[newest], oks[newest])
		}
		// The other slot holds the previous commit point.
		if other := 1 - newest; !oks[other] || sts[other].Committed != q-1 || gens[other] != gens[newest]-1 {
			t.Errorf("after Commit(%d): other slot %+v gen %d (valid %v), newest gen %d", q, sts[other], gens[other], oks[other], gens[newest])
		}
	}
}

// TestStateTornSlot is a crash between (and during) slot writes: the state
// write for a commit is torn at every length while the segments are as they
// were before it. Open uses the other slot, the previous commit point, and
// loses and reuses nothing.
func TestStateTornSlot(t *testing.T) {
	live := t.TempDir()
	s := mustOpen(t, live, Options{SegmentBytes: 1024})
	appendN(t, s, 20, 100)
	if err := s.Commit(4); err != nil {
		t.Fatal(err)
	}
	snap := copyDir(t, live) // the disk when the crash comes: Commit(4) durable
	before, _, _, _ := slotsOf(t, snap)
	if err := s.Commit(12); err != nil {
		t.Fatal(err)
	}
	after, sts, gens, _ := slotsOf(t, live)
	slot := 0 // the slot Commit(12) wrote
	if gens[1] > gens[0] {
		slot = 1
	}
	if sts[slot].Committed != 12 {
		t.Fatalf("newest slot %+v, want Committed 12", sts[slot])
	}
	if len(segFiles(t, snap)) <= len(segFiles(t, live)) {
		t.Fatalf("Commit(12) removed no segment (%d before, %d after); the test needs it to", len(segFiles(t, snap)), len(segFiles(t, live)))
	}
	off := slot * stateSlotSize
	tornSeen := 0
	for _, n := range []int{0, 1, 8, 9, 16, 24, 40, stateSlotBytes - 1, stateSlotBytes} {
		dir := copyDir(t, snap)
		torn := bytes.Clone(before)
		copy(torn[off:off+n], after[off:off+n])
		if err := os.WriteFile(filepath.Join(dir, stateName), torn, 0o600); err != nil {
			t.Fatal(err)
		}
		log, lb := newLogger()
		s2 := mustOpen(t, dir, Options{SegmentBytes: 1024, Logger: log})
		st := s2.Stats()
		want := uint64(4)
		if n == stateSlotBytes {
			want = 12 // the write was complete
		}
		if st.Committed != want {
			t.Errorf("torn after %d bytes: Committed = %d, want %d", n, st.Committed, want)
		}
		if got := seqsOf(leaseAll(t, s2)); !slices.Equal(got, seqRange(want+1, 20)) {
			t.Errorf("torn after %d bytes: records %v, want %d..20", n, got, want+1)
		}
		if st.NextSeq != 21 || st.Dropped != 0 {
			t.Errorf("torn after %d bytes: NextSeq %d Dropped %d, want 21 and 0", n, st.NextSeq, st.Dropped)
		}
		// Bytes the write did not change leave the old slot valid.
		slotOf := func(b []byte) []byte { return b[off : off+stateSlotBytes] }
		damaged := !bytes.Equal(slotOf(torn), slotOf(before)) && !bytes.Equal(slotOf(torn), slotOf(after))
		if damaged {
			tornSeen++
		}
		if damaged != strings.Contains(lb.String(), "damaged slot") {
			t.Errorf("torn after %d bytes: log %q", n, lb)
		}
		// The spool goes on: the next commits are durable across a reopen.
		if err := s2.Commit(15); err != nil {
			t.Fatal(err)
		}
		if err := s2.Commit(16); err != nil {
			t.Fatal(err)
		}
		s2.Close()
		s3 := mustOpen(t, dir, Options{SegmentBytes: 1024})
		if st := s3.Stats(); st.Committed != 16 || st.NextSeq != 21 {
			t.Errorf("torn after %d bytes, reopened: %+v", n, st)
		}
		s3.Close()
	}
	if tornSeen == 0 {
		t.Error("no tear length damaged the slot")
	}
}

// writeV1 turns the spool in dir into one written by an older agent: a
// format-1 state file.
func writeV1(tb testing.TB, dir string, st state) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, stateName), marshalV1(st), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestStateMigrateV1: a spool of an older agent is read and its state file
// replaced by a preallocated one on Open.
func TestStateMigrateV1(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 10, 10)
	s.Close()
	writeV1(t, dir, state{Committed: 4, Last: 10, Dropped: 3})

	log, lb := newLogger()
	s = mustOpen(t, dir, Options{Logger: log})
	if st := s.Stats(); st.Committed != 4 || st.NextSeq != 11 || st.Dropped != 3 {
		t.Errorf("Stats after Open of a format-1 spool = %+v", st)
	}
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(5, 10)) {
		t.Errorf("records = %v, want 5..10", got)
	}
	if !strings.Contains(lb.String(), "migrated") {
		t.Errorf("migration not logged:\n%s", lb)
	}
	_, sts, _, oks := slotsOf(t, dir)
	if !oks[0] || sts[0] != (state{Committed: 4, Last: 10, Dropped: 3}) {
		t.Errorf("migrated slot 0 = %+v (valid %v)", sts[0], oks[0])
	}
	if err := s.Commit(8); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, dir, Options{})
	if st := s.Stats(); st.Committed != 8 || st.NextSeq != 11 || st.Dropped != 3 {
		t.Errorf("Stats after reopen = %+v", st)
	}

	// A format-1 file of an unknown version is refused untouched.
	dir2 := t.TempDir()
	b := marshalV1(state{Committed: 1})
	b[7] = 9
	os.WriteFile(filepath.Join(dir2, stateName), b, 0o600)
	if _, err := Open(dir2, Options{}); !errors.Is(err, ErrFormat) {
		t.Errorf("Open with state version 9 = %v, want ErrFormat", err)
	}
}

// fakeFull makes the spool's writes that need new blocks fail as on a full
// disk until the test ends or the returned func is called.
func fakeFull(t *testing.T) func() {
	fakeFullDisk.Store(true)
	t.Cleanup(func() { fakeFullDisk.Store(false) })
	return func() { fakeFullDisk.Store(false) }
}

// TestCommitOnFullDisk (the logic, with a fake full disk; spool_tmpfs_test.go
// fills a real one): appends fail and are counted as dropped, but a commit
// works and removes the acked segments, and so do Close and Open.
func TestCommitOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 1024})
	appendN(t, s, 30, 100)
	segs := len(segFiles(t, dir))

	space := fakeFull(t)
	for i := range 3 {
		if _, err := s.Append(record(100+i, 100)); !diskFull(err) {
			t.Fatalf("Append on a full disk = %v, want a disk-full error", err)
		}
	}
	if st := s.Stats(); st.Dropped != 3 || st.NextSeq != 31 {
		t.Errorf("after 3 refused appends: %+v, want Dropped 3, NextSeq 31", st)
	}
	rs := leaseAll(t, s)
	if len(rs) != 30 {
		t.Fatalf("leased %d records, want 30", len(rs))
	}
	if err := s.Commit(rs[len(rs)-1].Seq); err != nil {
		t.Fatalf("Commit on a full disk = %v", err)
	}
	if n := len(segFiles(t, dir)); n > 1 || segs < 3 {
		t.Errorf("segment files: %d before, %d after committing everything; want at most the active one left", segs, n)
	}
	if st := s.Stats(); st.Records != 0 || st.Committed != 30 {
		t.Errorf("after Commit: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close on a full disk = %v", err)
	}
	s = mustOpen(t, dir, Options{SegmentBytes: 1024})
	if st := s.Stats(); st.Committed != 30 || st.Dropped != 3 || st.NextSeq != 31 {
		t.Errorf("reopened on a full disk: %+v", st)
	}
	space()
	if seq := mustAppend(t, s, record(200, 100)); seq != 31 {
		t.Errorf("Append once there is space = %d, want 31", seq)
	}
}

// TestCommitOnFullDiskV1: a spool of an older agent opened on a full disk
// cannot migrate its state file; Open still works, commits fail (as before)
// until there is space, then the file is migrated.
func TestCommitOnFullDiskV1(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 10, 10)
	s.Close()
	writeV1(t, dir, state{Committed: 2, Last: 10})

	space := fakeFull(t)
	log, lb := newLogger()
	s = mustOpen(t, dir, Options{Logger: log})
	if !strings.Contains(lb.String(), "cannot preallocate") {
		t.Errorf("failed migration not logged:\n%s", lb)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, stateName)); !bytes.Equal(b, marshalV1(state{Committed: 2, Last: 10})) {
		t.Errorf("format-1 state file changed on a full disk: %x", b)
	}
	if err := s.Commit(5); !diskFull(err) {
		t.Errorf("Commit on a full disk before migration = %v, want a disk-full error", err)
	}
	if st := s.Stats(); st.Committed != 2 {
		t.Errorf("Committed = %d after a failed commit, want 2", st.Committed)
	}
	space()
	if err := s.Commit(5); err != nil {
		t.Fatal(err)
	}
	_, sts, _, oks := slotsOf(t, dir)
	if !oks[0] || sts[0].Committed != 5 {
		t.Errorf("migrated slot 0 = %+v (valid %v)", sts[0], oks[0])
	}
}

// newestSlot returns the offset of the slot with the higher generation.
func newestSlot(tb testing.TB, dir string) int64 {
	tb.Helper()
	_, _, gens, oks := slotsOf(tb, dir)
	if !oks[0] || (oks[1] && gens[1] > gens[0]) {
		return stateSlotSize
	}
	return 0
}

// TestStateDamagedNewestSlot: the newest slot is damaged after a complete
// write (bit rot, not a torn write) when no segment is left to hold the last
// seq. Both slots hold it then, so no seq is assigned twice.
func TestStateDamagedNewestSlot(t *testing.T) {
	t.Run("open removes every segment", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		appendN(t, s, 10, 10)
		if err := s.Commit(10); err != nil {
			t.Fatal(err)
		}
		crash(s) // the older slot still says Last 0
		s = mustOpen(t, dir, Options{})
		if n := len(segFiles(t, dir)); n != 0 {
			t.Fatalf("%d segment files after Open of an acked spool", n)
		}
		crash(s)
		patch(t, filepath.Join(dir, stateName), newestSlot(t, dir)+20, []byte{0xff})
		log, lb := newLogger()
		s = mustOpen(t, dir, Options{Logger: log})
		if !strings.Contains(lb.String(), "damaged slot") {
			t.Errorf("damaged slot not logged:\n%s", lb)
		}
		if st := s.Stats(); st.NextSeq != 11 || st.Committed != 10 {
			t.Errorf("Stats = %+v, want NextSeq 11, Committed 10", st)
		}
	})
	t.Run("commit removes the last segment", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		appendN(t, s, 10, 10)
		s.mu.Lock()
		s.full = true // as after an append refused by a full disk
		s.mu.Unlock()
		if err := s.Commit(10); err != nil {
			t.Fatal(err)
		}
		if n := len(segFiles(t, dir)); n != 0 {
			t.Fatalf("%d segment files after committing everything on a full disk, want 0", n)
		}
		crash(s)
		patch(t, filepath.Join(dir, stateName), newestSlot(t, dir)+20, []byte{0xff})
		s = mustOpen(t, dir, Options{})
		if st := s.Stats(); st.NextSeq != 11 || st.Committed != 10 {
			t.Errorf("Stats = %+v, want NextSeq 11, Committed 10", st)
		}
	})
}

// TestCommitOnFullDiskOneSegment: the segment being written is the one that
// filled the disk. Once everything in it is acked, Commit removes it too,
// and the next Append starts a new one.
func TestCommitOnFullDiskOneSegment(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 30, 100)
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("%d segment files, want 1", n)
	}
	space := fakeFull(t)
	if _, err := s.Append(record(100, 100)); !diskFull(err) {
		t.Fatalf("Append on a full disk = %v, want a disk-full error", err)
	}
	if err := s.Commit(20); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n != 1 {
		t.Errorf("%d segment files after a partial commit, want 1 (10 records wait in it)", n)
	}
	if err := s.Commit(30); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n != 0 {
		t.Errorf("%d segment files after committing everything on a full disk, want 0", n)
	}
	if rs := leaseAll(t, s); len(rs) != 0 {
		t.Errorf("leased %v after committing everything", seqsOf(rs))
	}
	space()
	if seq := mustAppend(t, s, record(101, 100)); seq != 31 {
		t.Errorf("Append = %d, want 31", seq)
	}
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, []uint64{31}) {
		t.Errorf("leased %v, want [31]", got)
	}
	s.Close()
	s = mustOpen(t, dir, Options{})
	if st := s.Stats(); st.NextSeq != 32 || st.Committed != 30 || st.Records != 1 || st.Dropped != 1 {
		t.Errorf("reopened: %+v", st)
	}

	// Without a full disk the segment being written stays: no file per record.
	dir = t.TempDir()
	s = mustOpen(t, dir, Options{})
	appendN(t, s, 3, 10)
	if err := s.Commit(3); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n != 1 {
		t.Errorf("%d segment files after committing everything with space, want 1", n)
	}
}
