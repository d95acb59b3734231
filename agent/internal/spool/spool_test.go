package spool

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// logBuf collects a spool's log lines so that tests can look for warnings.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// mustOpen opens the spool in dir and closes it when the test ends.
func mustOpen(tb testing.TB, dir string, opts Options) *Spool {
	tb.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", dir, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// record returns a test record whose body encodes i and has size bytes.
func record(i, size int) wire.Record {
	body := bytes.Repeat([]byte{byte(i)}, size)
	copy(body, fmt.Sprintf("%d:", i))
	return wire.Record{Kind: wire.KindMedia, ObservedAt: int64(i) * 1e9, Body: body}
}

func mustAppend(tb testing.TB, s *Spool, r wire.Record) uint64 {
	tb.Helper()
	seq, err := s.Append(r)
	if err != nil {
		tb.Fatalf("Append(%s, %d bytes) = %v", r.Kind, len(r.Body), err)
	}
	return seq
}

// appendN appends n records numbered from 1 and returns their seqs.
func appendN(tb testing.TB, s *Spool, n, size int) []uint64 {
	tb.Helper()
	seqs := make([]uint64, n)
	for i := range n {
		seqs[i] = mustAppend(tb, s, record(i+1, size))
	}
	return seqs
}

// leaseAll leases until nothing is left and returns every record.
func leaseAll(tb testing.TB, s *Spool) []wire.Record {
	tb.Helper()
	var all []wire.Record
	for {
		rs, err := s.Lease(1000, 0)
		if err != nil {
			tb.Fatalf("Lease = %v", err)
		}
		if rs == nil {
			return all
		}
		all = append(all, rs...)
	}
}

func seqsOf(rs []wire.Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

// seqRange returns the seqs from lo to hi.
func seqRange(lo, hi uint64) []uint64 {
	var out []uint64
	for q := lo; q <= hi; q++ {
		out = append(out, q)
	}
	return out
}

// segFiles returns the names of the segment files in dir.
func segFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		tb.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

// crash abandons a spool the way kill -9 would: handles closed, nothing saved.
func crash(s *Spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.closeFiles()
	if s.sf != nil {
		s.sf.close()
	}
	s.lock.Close()
}

func TestAppendLeaseCommit(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	var want []wire.Record
	for i := range 10 {
		r := record(i+1, 50+i)
		seq := mustAppend(t, s, r)
		if seq != uint64(i+1) {
			t.Fatalf("Append #%d = seq %d, want %d", i+1, seq, i+1)
		}
		r.Seq = seq
		want = append(want, r)
	}

	got, err := s.Lease(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqsOf(got), seqRange(1, 4)) {
		t.Fatalf("Lease(4) = %v, want 1..4", seqsOf(got))
	}
	for i, r := range got {
		w := want[i]
		if r.Seq != w.Seq || r.Kind != w.Kind || r.ObservedAt != w.ObservedAt || !bytes.Equal(r.Body, w.Body) || r.Enc != w.Enc {
			t.Errorf("leased record %d = %+v, want %+v", i, r, w)
		}
	}
	if st := s.Stats(); st.Leased != 4 || st.Committed != 0 || st.Records != 10 || st.NextSeq != 11 {
		t.Errorf("Stats after lease = %+v, want Leased 4, Committed 0, Records 10, NextSeq 11", st)
	}
	if err := s.Commit(4); err != nil {
		t.Fatalf("Commit(4) = %v", err)
	}
	if st := s.Stats(); st.Committed != 4 || st.Records != 6 {
		t.Errorf("Stats after commit = %+v, want Committed 4, Records 6", st)
	}
	got, _ = s.Lease(100, 0)
	if !slices.Equal(seqsOf(got), seqRange(5, 10)) {
		t.Fatalf("Lease = %v, want 5..10", seqsOf(got))
	}
	if got, err := s.Lease(100, 0); got != nil || err != nil {
		t.Fatalf("Lease with nothing waiting = %v, %v; want nil, nil", seqsOf(got), err)
	}

	s.Release()
	got, _ = s.Lease(100, 0)
	if !slices.Equal(seqsOf(got), seqRange(5, 10)) {
		t.Fatalf("Lease after Release = %v, want 5..10", seqsOf(got))
	}
	if err := s.Commit(10); err != nil {
		t.Fatal(err)
	}
	s.Release()
	if got, err := s.Lease(100, 0); got != nil || err != nil {
		t.Fatalf("Lease after full commit = %v, %v; want nil, nil", seqsOf(got), err)
	}
	if st := s.Stats(); st.Records != 0 || st.Committed != 10 || st.Leased != 10 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want Records 0, Committed 10, Leased 10, Dropped 0", st)
	}
}

func TestCommitBounds(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	if err := s.Commit(0); err != nil {
		t.Errorf("Commit(0) on an empty spool = %v, want nil", err)
	}
	if err := s.Commit(1); !errors.Is(err, ErrNotAppended) {
		t.Errorf("Commit(1) on an empty spool = %v, want ErrNotAppended", err)
	}
	appendN(t, s, 5, 10)
	if err := s.Commit(3); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(2); err != nil {
		t.Errorf("Commit(2) below the commit point = %v, want nil", err)
	}
	if st := s.Stats(); st.Committed != 3 {
		t.Errorf("Committed = %d after Commit(2), want 3", st.Committed)
	}
	if err := s.Commit(6); !errors.Is(err, ErrNotAppended) {
		t.Errorf("Commit(6) with 5 appended = %v, want ErrNotAppended", err)
	}
	if got, _ := s.Lease(0, 0); !slices.Equal(seqsOf(got), seqRange(4, 5)) {
		t.Errorf("Lease = %v, want 4..5", seqsOf(got))
	}
}

func TestSeqAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 5, 20)
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	s = mustOpen(t, dir, Options{})
	if seq := mustAppend(t, s, record(6, 20)); seq != 6 {
		t.Fatalf("Append after reopen = %d, want 6", seq)
	}
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(1, 6)) {
		t.Fatalf("records after reopen = %v, want 1..6", got)
	}
	if err := s.Commit(6); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Everything committed: Open deletes every segment, the state keeps the seq.
	s = mustOpen(t, dir, Options{})
	if files := segFiles(t, dir); len(files) != 0 {
		t.Errorf("segment files after full commit and reopen = %v, want none", files)
	}
	if st := s.Stats(); st.NextSeq != 7 || st.Committed != 6 || st.Records != 0 || st.Bytes != 0 {
		t.Errorf("Stats = %+v, want NextSeq 7, Committed 6, Records 0, Bytes 0", st)
	}
	if got, err := s.Lease(10, 0); got != nil || err != nil {
		t.Fatalf("Lease = %v, %v; want nil, nil", seqsOf(got), err)
	}
	if seq := mustAppend(t, s, record(7, 20)); seq != 7 {
		t.Fatalf("Append after full commit and reopen = %d, want 7", seq)
	}
	s.Close()

	// A crash (no Close) keeps the seqs too.
	s = mustOpen(t, dir, Options{})
	if seq := mustAppend(t, s, record(8, 20)); seq != 8 {
		t.Fatalf("Append = %d, want 8", seq)
	}
	crash(s)
	s = mustOpen(t, dir, Options{})
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(7, 8)) {
		t.Fatalf("records after crash = %v, want 7..8", got)
	}
	if seq := mustAppend(t, s, record(9, 20)); seq != 9 {
		t.Fatalf("Append after crash = %d, want 9", seq)
	}
}

func TestSegmentsRollAndDelete(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 1024})
	appendN(t, s, 100, 100)
	files := segFiles(t, dir)
	if len(files) < 10 {
		t.Fatalf("%d segment files for 100 records of 100 bytes in 1 KiB segments, want >= 10", len(files))
	}
	checkBytes(t, s, dir)

	if err := s.Commit(50); err != nil {
		t.Fatal(err)
	}
	after := segFiles(t, dir)
	if len(after) >= len(files) {
		t.Errorf("segment files after Commit(50) = %d, want fewer than %d", len(after), len(files))
	}
	checkBytes(t, s, dir)
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(51, 100)) {
		t.Fatalf("records = %v, want 51..100", got)
	}
	if st := s.Stats(); st.Records != 50 {
		t.Errorf("Records = %d, want 50", st.Records)
	}
	if err := s.Commit(100); err != nil {
		t.Fatal(err)
	}
	// The segment being written stays until it rolls.
	if files := segFiles(t, dir); len(files) != 1 {
		t.Errorf("segment files after full commit = %v, want only the active one", files)
	}
	checkBytes(t, s, dir)
	if seq := mustAppend(t, s, record(101, 100)); seq != 101 {
		t.Errorf("Append = %d, want 101", seq)
	}
}

// checkBytes compares Stats.Bytes with the segment files on disk.
func checkBytes(tb testing.TB, s *Spool, dir string) {
	tb.Helper()
	var total int64
	for _, name := range segFiles(tb, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		total += fi.Size()
	}
	if st := s.Stats(); st.Bytes != uint64(total) {
		tb.Errorf("Stats.Bytes = %d, segment files hold %d", st.Bytes, total)
	}
}

func TestLeaseLimits(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentBytes: 4096})
	// Every record has the same encoded size: 100 bytes of body plus its envelope.
	same := wire.Record{Kind: wire.KindMedia, ObservedAt: 1e9, Body: make([]byte, 100)}
	for range 30 {
		mustAppend(t, s, same)
	}
	same.Seq = 30
	payload, err := wire.Marshal(same)
	if err != nil {
		t.Fatal(err)
	}
	size := len(payload)

	tests := []struct {
		maxRecords, maxBytes int
		want                 int
	}{
		{3, 0, 3},
		{100, 5 * size, 5},
		{100, 5*size + size/2, 5},
		{2, 10 * size, 2},
		{100, 1, 1}, // one record even if it alone is over maxBytes
	}
	next := uint64(1)
	for _, tt := range tests {
		got, err := s.Lease(tt.maxRecords, tt.maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if want := seqRange(next, next+uint64(tt.want)-1); !slices.Equal(seqsOf(got), want) {
			t.Errorf("Lease(%d, %d) = %v, want %v", tt.maxRecords, tt.maxBytes, seqsOf(got), want)
		}
		next += uint64(len(got))
	}
	big := mustAppend(t, s, record(31, 10_000))
	rest, _ := s.Lease(100, 0)
	if n := len(rest); n == 0 || rest[n-1].Seq != big {
		t.Fatalf("Lease = %v, want up to %d", seqsOf(rest), big)
	}
	s.Release()
	if got, _ := s.Lease(1000, 2*size); !slices.Equal(seqsOf(got), seqRange(1, 2)) {
		t.Errorf("Lease after Release = %v, want 1..2", seqsOf(got))
	}
}

func TestPipelinedLeases(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentBytes: 2048})
	appendN(t, s, 40, 100)
	a, _ := s.Lease(10, 0)
	b, _ := s.Lease(10, 0)
	c, _ := s.Lease(10, 0)
	for i, l := range [][]wire.Record{a, b, c} {
		lo := uint64(i*10 + 1)
		if !slices.Equal(seqsOf(l), seqRange(lo, lo+9)) {
			t.Fatalf("lease %d = %v, want %d..%d", i, seqsOf(l), lo, lo+9)
		}
	}
	if st := s.Stats(); st.Leased != 30 {
		t.Errorf("Leased = %d, want 30", st.Leased)
	}
	// Acks arrive for a and b; c is lost with the connection.
	if err := s.Commit(10); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(20); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(10); err != nil { // late duplicate ack
		t.Fatal(err)
	}
	d, _ := s.Lease(5, 0)
	if !slices.Equal(seqsOf(d), seqRange(31, 35)) {
		t.Fatalf("lease after commits = %v, want 31..35", seqsOf(d))
	}
	s.Release()
	e, _ := s.Lease(15, 0)
	if !slices.Equal(seqsOf(e), seqRange(21, 35)) {
		t.Fatalf("lease after Release = %v, want 21..35", seqsOf(e))
	}
	// Commit beyond the cursor: the next lease starts after it.
	if err := s.Commit(38); err != nil {
		t.Fatal(err)
	}
	s.Release()
	f, _ := s.Lease(15, 0)
	if !slices.Equal(seqsOf(f), seqRange(39, 40)) {
		t.Fatalf("lease after Commit(38) = %v, want 39..40", seqsOf(f))
	}
}

func TestAppendRefuses(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	_, err := s.Append(wire.Record{Kind: wire.KindInventory, Body: make([]byte, wire.MaxRecordSize+1)})
	if !errors.Is(err, ErrTooLarge) || wire.CodeOf(err) != wire.CodeRecordTooLarge {
		t.Errorf("Append(body over the limit) = %v, want ErrTooLarge with code %v", err, wire.CodeRecordTooLarge)
	}
	if err != nil && !strings.Contains(err.Error(), fmt.Sprint(wire.MaxRecordSize)) {
		t.Errorf("error %q does not name the limit", err)
	}
	for _, r := range []wire.Record{
		{Kind: "", Body: []byte{1}},
		{Kind: wire.Kind(strings.Repeat("k", 33)), Body: []byte{1}},
		{Kind: wire.KindMedia, Enc: 7},
	} {
		if _, err := s.Append(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Append(kind %q, enc %d) = %v, want ErrInvalid", r.Kind, r.Enc, err)
		}
	}
	if st := s.Stats(); st.NextSeq != 1 {
		t.Errorf("NextSeq = %d after refused appends, want 1", st.NextSeq)
	}
	seq := mustAppend(t, s, wire.Record{Kind: wire.KindInventory, Body: make([]byte, wire.MaxRecordSize)})
	got, err := s.Lease(1, 1)
	if err != nil || len(got) != 1 || got[0].Seq != seq || len(got[0].Body) != wire.MaxRecordSize {
		t.Fatalf("Lease of a record at the limit = %d records, %v", len(got), err)
	}
}

func TestNotify(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	select {
	case <-s.Notify():
		t.Fatal("notified before any append")
	default:
	}
	appendN(t, s, 3, 10) // several appends, one pending notification
	select {
	case <-s.Notify():
	case <-time.After(time.Second):
		t.Fatal("no notification after Append")
	}
	select {
	case <-s.Notify():
		t.Fatal("second notification for one burst")
	default:
	}
}

func TestClosed(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 1, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := s.Append(record(1, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Lease(1, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Lease after Close = %v, want ErrClosed", err)
	}
	if err := s.Commit(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	s.Close()
	s2 := mustOpen(t, dir, Options{})
	s2.Close()
}

func TestFilePermissions(t *testing.T) {
	if os.PathSeparator == '\\' {
		t.Skip("no Unix permissions on Windows")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 2, 10)
	s.Commit(1)
	fis, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fis {
		fi, _ := e.Info()
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other access", e.Name(), fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("spool dir has mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestBound(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxBytes: 4096, SegmentBytes: 1024}
	s := mustOpen(t, dir, opts)
	const n = 200
	appendN(t, s, n, 100)
	st := s.Stats()
	if st.Bytes > uint64(opts.MaxBytes) {
		t.Errorf("Bytes = %d, over MaxBytes %d", st.Bytes, opts.MaxBytes)
	}
	checkBytes(t, s, dir)
	got := seqsOf(leaseAll(t, s))
	if len(got) == 0 || got[len(got)-1] != n || !slices.Equal(got, seqRange(got[0], n)) {
		t.Fatalf("records after overflow = %v, want a contiguous tail ending at %d", got, n)
	}
	if want := uint64(n - len(got)); st.Dropped != want || st.Dropped == 0 {
		t.Errorf("Dropped = %d, want %d (appended %d, %d left)", st.Dropped, want, n, len(got))
	}
	if st.Records != uint64(len(got)) {
		t.Errorf("Records = %d, want %d", st.Records, len(got))
	}
	s.Close()

	s = mustOpen(t, dir, opts)
	if st2 := s.Stats(); st2.Dropped != st.Dropped || st2.Records != st.Records || st2.NextSeq != n+1 {
		t.Errorf("Stats after reopen = %+v, want Dropped %d, Records %d, NextSeq %d", st2, st.Dropped, st.Records, n+1)
	}
	if got2 := seqsOf(leaseAll(t, s)); !slices.Equal(got2, got) {
		t.Errorf("records after reopen = %v, want %v", got2, got)
	}
}

func TestBoundCountsOnlyUnacked(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxBytes: 4096, SegmentBytes: 1024}
	s := mustOpen(t, dir, opts)
	appendN(t, s, 20, 100)
	leased := seqsOf(leaseAll(t, s))
	// Commit part of the first segment, then overflow: the committed records
	// in a dropped segment are not counted as dropped.
	if err := s.Commit(3); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 21; i <= n; i++ {
		mustAppend(t, s, record(i, 100))
	}
	// Acks for records dropped while leased are fine.
	if err := s.Commit(leased[len(leased)-1]); err != nil {
		t.Errorf("Commit(%d) of dropped records = %v", leased[len(leased)-1], err)
	}
	s.Release()
	left := seqsOf(leaseAll(t, s))
	if len(left) == 0 || left[0] <= 20 || !slices.Equal(left, seqRange(left[0], n)) {
		t.Fatalf("records left = %v, want a contiguous tail above 20 ending at %d", left, n)
	}
	// Everything below left[0] was dropped, except 1..3, committed before.
	if st, want := s.Stats(), left[0]-1-3; st.Dropped != want {
		t.Errorf("Dropped = %d, want %d (first left %d, 3 committed)", st.Dropped, want, left[0])
	}
}

func TestDropUnderCursor(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{MaxBytes: 4096, SegmentBytes: 1024})
	appendN(t, s, 10, 100)
	first, _ := s.Lease(3, 0)
	if !slices.Equal(seqsOf(first), seqRange(1, 3)) {
		t.Fatalf("Lease = %v, want 1..3", seqsOf(first))
	}
	for i := 11; i <= 100; i++ {
		mustAppend(t, s, record(i, 100))
	}
	// The cursor's segment is gone; leasing goes on with the oldest record left.
	rest := seqsOf(leaseAll(t, s))
	if len(rest) == 0 || rest[0] <= 10 || !slices.Equal(rest, seqRange(rest[0], 100)) {
		t.Fatalf("records after the drop = %v, want a contiguous tail ending at 100", rest)
	}
	st := s.Stats()
	if want := rest[0] - 1; st.Dropped != want {
		t.Errorf("Dropped = %d, want %d", st.Dropped, want)
	}
	// The ack for the first lease arrives late: fine.
	if err := s.Commit(3); err != nil {
		t.Errorf("Commit(3) of dropped records = %v", err)
	}
	if err := s.Commit(100); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Records != 0 || st.Dropped != rest[0]-1 {
		t.Errorf("Stats after Commit(100) = %+v, want Records 0, Dropped %d", st, rest[0]-1)
	}
}

func TestConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 16 << 10, NoSync: true})
	const writers, each = 8, 300
	var wg sync.WaitGroup
	seqs := make([][]uint64, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq, err := s.Append(record(w*each+i, 50+i%200))
				if err != nil {
					t.Errorf("Append = %v", err)
					return
				}
				seqs[w] = append(seqs[w], seq)
			}
		})
	}
	// One uplink leases and commits meanwhile.
	done := make(chan struct{})
	var leased []uint64
	var uplink sync.WaitGroup
	uplink.Go(func() {
		for {
			rs, err := s.Lease(64, 0)
			if err != nil {
				t.Errorf("Lease = %v", err)
				return
			}
			for _, r := range rs {
				leased = append(leased, r.Seq)
			}
			if len(rs) > 0 {
				if err := s.Commit(rs[len(rs)-1].Seq); err != nil {
					t.Errorf("Commit = %v", err)
				}
				continue
			}
			select {
			case <-done:
				return
			case <-s.Notify():
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	wg.Wait()
	close(done)
	uplink.Wait()
	leased = append(leased, seqsOf(leaseAll(t, s))...)

	var all []uint64
	for _, ss := range seqs {
		if !slices.IsSorted(ss) {
			t.Errorf("one writer's seqs are not increasing: %v", ss)
		}
		all = append(all, ss...)
	}
	slices.Sort(all)
	if !slices.Equal(all, seqRange(1, writers*each)) {
		t.Errorf("assigned seqs are not 1..%d without duplicates", writers*each)
	}
	if !slices.Equal(leased, seqRange(1, writers*each)) {
		t.Errorf("leased seqs are not 1..%d in order (got %d)", writers*each, len(leased))
	}
}

func TestLargeBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("100k records")
	}
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	const n = 100_000
	for i := range n {
		mustAppend(t, s, record(i, 40))
	}
	start := time.Now()
	next := uint64(1)
	for {
		rs, err := s.Lease(1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rs == nil {
			break
		}
		if rs[0].Seq != next {
			t.Fatalf("lease starts at %d, want %d", rs[0].Seq, next)
		}
		next = rs[len(rs)-1].Seq + 1
		if err := s.Commit(rs[len(rs)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	if next != n+1 {
		t.Fatalf("leased up to %d, want %d", next-1, n)
	}
	t.Logf("leased and committed %d records in %v", n, time.Since(start))
}

// TestLeaseAfterAppendToReadSegment: the uplink leases everything, a sensor
// appends more to the same segment, the uplink leases again. The new records
// must come out whole, not be taken for a torn file and repaired away.
func TestLeaseAfterAppendToReadSegment(t *testing.T) {
	log, buf := newLogger()
	s := mustOpen(t, t.TempDir(), Options{Logger: log})
	for round := 1; round <= 20; round++ {
		// Vary sizes so that bufio's read-ahead ends at different places.
		mustAppend(t, s, record(round, 10+round*37))
		got, err := s.Lease(100, 1<<20)
		if err != nil {
			t.Fatalf("round %d: Lease = %v", round, err)
		}
		if len(got) != 1 || got[0].Seq != uint64(round) {
			t.Fatalf("round %d: Lease returned %d records %v, want seq %d", round, len(got), got, round)
		}
		if err := s.Commit(got[0].Seq); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Dropped != 0 {
		t.Errorf("Dropped = %d, want 0", st.Dropped)
	}
	if strings.Contains(buf.String(), "damaged") {
		t.Errorf("spool logged damage that was not there:\n%s", buf.String())
	}
}
