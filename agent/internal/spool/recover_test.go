package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// frameAt is where one frame lies in a segment file.
type frameAt struct {
	off, end int64
	seq      uint64
}

// framesOf parses the frames of an intact segment file.
func framesOf(tb testing.TB, path string) []frameAt {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(segMagic)) {
		tb.Fatalf("%s has no segment header", path)
	}
	var out []frameAt
	for off := segHdrSize; off < int64(len(b)); {
		fh := parseFrameHeader(b[off:])
		end := off + frameHdrSize + int64(fh.n)
		out = append(out, frameAt{off, end, fh.seq})
		off = end
	}
	return out
}

// copyDir copies the spool files of src into a new temporary directory.
func copyDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := tb.TempDir()
	es, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range es {
		if e.Name() == lockName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

// patch overwrites bytes of the file at path.
func patch(tb testing.TB, path string, off int64, b []byte) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		tb.Fatal(err)
	}
}

func appendTo(tb testing.TB, path string, b []byte) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		tb.Fatal(err)
	}
}

// without returns ss without the seqs in drop.
func without(ss []uint64, drop ...uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(ss), func(q uint64) bool { return slices.Contains(drop, q) })
}

// crashedSpool appends n records of varying sizes and abandons the spool as a
// crash would. It returns the directory.
func crashedSpool(tb testing.TB, n int, opts Options) string {
	tb.Helper()
	dir := tb.TempDir()
	s := mustOpen(tb, dir, opts)
	for i := 1; i <= n; i++ {
		mustAppend(tb, s, record(i, 20+(i*37)%150))
	}
	crash(s)
	return dir
}

func TestTornTail(t *testing.T) {
	const n = 12
	orig := crashedSpool(t, n, Options{})
	segs := segFiles(t, orig)
	if len(segs) != 1 {
		t.Fatalf("segments = %v, want one", segs)
	}
	fr := framesOf(t, filepath.Join(orig, segs[0]))
	size := fr[len(fr)-1].end

	// Every cut inside the file header and the last frame, and cuts around
	// and inside the two frames before it.
	var cuts []int64
	for c := int64(0); c <= segHdrSize; c++ {
		cuts = append(cuts, c)
	}
	for _, f := range fr[n-3 : n-1] {
		for _, c := range []int64{f.off - 1, f.off, f.off + 1, f.off + 4, f.off + 8, f.off + 15, f.off + 16, f.off + 17, (f.off + f.end) / 2, f.end - 1} {
			cuts = append(cuts, c)
		}
	}
	for c := fr[n-1].off; c <= size; c++ {
		cuts = append(cuts, c)
	}
	for _, cut := range cuts {
		dir := copyDir(t, orig)
		path := filepath.Join(dir, segs[0])
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		intact := 0
		for _, f := range fr {
			if f.end <= cut {
				intact++
			}
		}
		log, lb := newLogger()
		s, err := Open(dir, Options{NoSync: true, Logger: log})
		if err != nil {
			t.Fatalf("cut at %d: Open = %v", cut, err)
		}
		got := seqsOf(leaseAll(t, s))
		if want := seqRange(1, uint64(intact)); !slices.Equal(got, want) {
			t.Errorf("cut at %d: records = %v, want %v", cut, got, want)
		}
		boundary := cut == 0 || cut == segHdrSize && intact == 0 || intact > 0 && cut == fr[intact-1].end
		if logged := strings.Contains(lb.String(), "torn"); logged == boundary {
			t.Errorf("cut at %d: torn warning logged = %v, want %v; log:\n%s", cut, logged, !boundary, lb)
		}
		if !boundary && !strings.Contains(lb.String(), "offset=") {
			t.Errorf("cut at %d: warning names no offset: %s", cut, lb)
		}
		if st := s.Stats(); st.Dropped != 0 || st.NextSeq != uint64(intact+1) || st.Records != uint64(intact) {
			t.Errorf("cut at %d: Stats = %+v, want Dropped 0, NextSeq %d, Records %d", cut, st, intact+1, intact)
		}
		if seq := mustAppend(t, s, record(99, 30)); seq != uint64(intact+1) {
			t.Errorf("cut at %d: Append = %d, want %d", cut, seq, intact+1)
		}
		s.Close()
		s = mustOpen(t, dir, Options{NoSync: true})
		if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(1, uint64(intact+1))) {
			t.Errorf("cut at %d: records after append and reopen = %v, want 1..%d", cut, got, intact+1)
		}
		s.Close()
	}
}

func TestTornTailGarbage(t *testing.T) {
	const n = 12
	orig := crashedSpool(t, n, Options{})
	seg := segFiles(t, orig)[0]
	fr := framesOf(t, filepath.Join(orig, seg))
	first, _ := os.ReadFile(filepath.Join(orig, seg))
	first = first[fr[0].off:fr[0].end] // a valid frame, but seq 1 again

	bigLen := make([]byte, frameHdrSize)
	binary.BigEndian.PutUint32(bigLen, 1<<20)
	binary.BigEndian.PutUint64(bigLen[8:], n+1)
	tails := map[string][]byte{
		"zeros":          make([]byte, 4096),
		"random":         []byte("\x8f\x13\x00\x07garbage that is not a frame at all \xff\xfe"),
		"header only":    bigLen,
		"duplicate seq":  first,
		"one zero byte":  {0},
		"15 bytes of ff": bytes.Repeat([]byte{0xff}, 15),
	}
	for name, tail := range tails {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, orig)
			appendTo(t, filepath.Join(dir, seg), tail)
			log, lb := newLogger()
			s := mustOpen(t, dir, Options{Logger: log})
			if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(1, n)) {
				t.Errorf("records = %v, want 1..%d", got, n)
			}
			if want := fmt.Sprintf("offset=%d", fr[n-1].end); !strings.Contains(lb.String(), want) {
				t.Errorf("log does not name %s:\n%s", want, lb)
			}
			if st := s.Stats(); st.Dropped != 0 {
				t.Errorf("Dropped = %d, want 0", st.Dropped)
			}
			if seq := mustAppend(t, s, record(n+1, 10)); seq != n+1 {
				t.Errorf("Append = %d, want %d", seq, n+1)
			}
			if fi, _ := os.Stat(filepath.Join(dir, seg)); fi.Size() != fr[n-1].end+frameHdrSize+int64(len(mustEncode(t, n+1, 10))) {
				t.Errorf("segment is %d bytes after the repair and one append", fi.Size())
			}
		})
	}
}

// mustEncode returns the payload of record(i, size) with seq i.
func mustEncode(tb testing.TB, i, size int) []byte {
	tb.Helper()
	r := record(i, size)
	r.Seq = uint64(i)
	b, err := wire.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestTornTailManySegments(t *testing.T) {
	const n = 60
	orig := crashedSpool(t, n, Options{SegmentBytes: 2048})
	segs := segFiles(t, orig)
	if len(segs) < 3 {
		t.Fatalf("segments = %v, want at least 3", segs)
	}
	last := segs[len(segs)-1]
	fr := framesOf(t, filepath.Join(orig, last))
	for _, cut := range []int64{0, 3, segHdrSize, fr[0].off + 5, fr[0].end, fr[len(fr)-1].off + 20} {
		dir := copyDir(t, orig)
		if err := os.Truncate(filepath.Join(dir, last), cut); err != nil {
			t.Fatal(err)
		}
		want := fr[0].seq - 1
		for _, f := range fr {
			if f.end <= cut {
				want = f.seq
			}
		}
		s := mustOpen(t, dir, Options{SegmentBytes: 2048})
		if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(1, want)) {
			t.Errorf("cut at %d: records = %v, want 1..%d", cut, got, want)
		}
		if seq := mustAppend(t, s, record(1, 10)); seq != want+1 {
			t.Errorf("cut at %d: Append = %d, want %d", cut, seq, want+1)
		}
		s.Close()
	}
}

func TestCorruptMiddle(t *testing.T) {
	const n = 60
	opts := Options{SegmentBytes: 2048}
	orig := crashedSpool(t, n, opts)
	segs := segFiles(t, orig)
	if len(segs) < 4 {
		t.Fatalf("segments = %v, want at least 4", segs)
	}
	all := seqRange(1, n)
	fr0 := framesOf(t, filepath.Join(orig, segs[0]))
	fr1 := framesOf(t, filepath.Join(orig, segs[1]))
	frl := framesOf(t, filepath.Join(orig, segs[len(segs)-1]))
	if len(fr0) < 6 || len(frl) < 3 {
		t.Fatalf("frames per segment: %d first, %d last; want more", len(fr0), len(frl))
	}

	tests := []struct {
		name    string
		damage  func(dir string)
		want    []uint64
		dropped uint64
		offset  int64 // named in the log
	}{{
		name: "payload bit flip",
		damage: func(dir string) {
			patch(t, filepath.Join(dir, segs[0]), fr0[2].off+frameHdrSize+7, []byte{0x5a})
		},
		want: without(all, fr0[2].seq), dropped: 1, offset: fr0[2].off,
	}, {
		name: "length field",
		damage: func(dir string) {
			patch(t, filepath.Join(dir, segs[0]), fr0[2].off, []byte{0, 0, 0x10, 0})
		},
		want: without(all, fr0[2].seq), dropped: 1, offset: fr0[2].off,
	}, {
		name: "zeroed block over three frames",
		damage: func(dir string) {
			patch(t, filepath.Join(dir, segs[0]), fr0[1].off+5, make([]byte, fr0[3].off+frameHdrSize+3-(fr0[1].off+5)))
		},
		want: without(all, fr0[1].seq, fr0[2].seq, fr0[3].seq), dropped: 3, offset: fr0[1].off,
	}, {
		name: "inserted garbage",
		damage: func(dir string) {
			path := filepath.Join(dir, segs[1])
			b, _ := os.ReadFile(path)
			b = slices.Insert(b, int(fr1[1].off), []byte("some garbage bytes")...)
			os.WriteFile(path, b, 0o600)
		},
		want: all, dropped: 0, offset: fr1[1].off,
	}, {
		name: "segment header",
		damage: func(dir string) {
			patch(t, filepath.Join(dir, segs[1]), 0, []byte("garbage!"))
		},
		want: all, dropped: 0, offset: 0,
	}, {
		name: "older segment cut short",
		damage: func(dir string) {
			os.Truncate(filepath.Join(dir, segs[0]), fr0[4].off+9)
		},
		want: without(all, seqRange(fr0[4].seq, fr0[len(fr0)-1].seq)...), dropped: uint64(len(fr0) - 4), offset: fr0[4].off,
	}, {
		name: "older segment emptied",
		damage: func(dir string) {
			os.Truncate(filepath.Join(dir, segs[1]), 0)
		},
		want: without(all, seqRange(fr1[0].seq, fr1[len(fr1)-1].seq)...), dropped: uint64(len(fr1)), offset: 0,
	}, {
		name: "last segment, not at the end",
		damage: func(dir string) {
			patch(t, filepath.Join(dir, segs[len(segs)-1]), frl[1].off+frameHdrSize+3, []byte{0xa5, 0xa5})
		},
		want: without(all, frl[1].seq), dropped: 1, offset: frl[1].off,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, orig)
			tt.damage(dir)
			log, lb := newLogger()
			o := opts
			o.Logger = log
			s := mustOpen(t, dir, o)
			if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, tt.want) {
				t.Errorf("records = %v, want %v", got, tt.want)
			}
			st := s.Stats()
			if st.Dropped != tt.dropped || st.Records != uint64(len(tt.want)) || st.NextSeq != n+1 {
				t.Errorf("Stats = %+v, want Dropped %d, Records %d, NextSeq %d", st, tt.dropped, len(tt.want), n+1)
			}
			if want := fmt.Sprintf("offset=%d", tt.offset); !strings.Contains(lb.String(), "level=ERROR") || !strings.Contains(lb.String(), want) {
				t.Errorf("no error naming %s logged:\n%s", want, lb)
			}
			checkBytes(t, s, dir)
			s.Close()

			// The repair is on disk: a second Open finds nothing more.
			log, lb = newLogger()
			o.Logger = log
			s = mustOpen(t, dir, o)
			if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, tt.want) {
				t.Errorf("records after second Open = %v, want %v", got, tt.want)
			}
			if st := s.Stats(); st.Dropped != tt.dropped || st.Records != uint64(len(tt.want)) {
				t.Errorf("Stats after second Open = %+v, want Dropped %d, Records %d", st, tt.dropped, len(tt.want))
			}
			if lb.String() != "" {
				t.Errorf("second Open logged:\n%s", lb)
			}
			// Commits work across the holes.
			if err := s.Commit(n / 2); err != nil {
				t.Fatal(err)
			}
			if st, want := s.Stats(), uint64(len(tt.want))-countUpTo(tt.want, n/2); st.Records != want {
				t.Errorf("Records after Commit(%d) = %d, want %d", n/2, st.Records, want)
			}
			if err := s.Commit(n); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Records != 0 {
				t.Errorf("Records after Commit(%d) = %d, want 0", n, st.Records)
			}
		})
	}
}

// countUpTo counts the seqs in ss at or below x.
func countUpTo(ss []uint64, x uint64) uint64 {
	var n uint64
	for _, q := range ss {
		if q <= x {
			n++
		}
	}
	return n
}

func TestCorruptWhileOpen(t *testing.T) {
	const n = 60
	dir := t.TempDir()
	log, lb := newLogger()
	opts := Options{SegmentBytes: 2048, Logger: log}
	s := mustOpen(t, dir, opts)
	for i := 1; i <= n; i++ {
		mustAppend(t, s, record(i, 100))
	}
	segs := segFiles(t, dir)
	fr0 := framesOf(t, filepath.Join(dir, segs[0]))
	frl := framesOf(t, filepath.Join(dir, segs[len(segs)-1]))
	// Bit rot in an older segment and in the one being written.
	patch(t, filepath.Join(dir, segs[0]), fr0[3].off+frameHdrSize+20, []byte{0xee})
	patch(t, filepath.Join(dir, segs[len(segs)-1]), frl[len(frl)-1].off+frameHdrSize+20, []byte{0xee})
	want := without(seqRange(1, n), fr0[3].seq, frl[len(frl)-1].seq)

	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, want) {
		t.Errorf("records = %v, want %v", got, want)
	}
	if st := s.Stats(); st.Dropped != 2 || st.Records != n-2 {
		t.Errorf("Stats = %+v, want Dropped 2, Records %d", st, n-2)
	}
	for _, off := range []int64{fr0[3].off, frl[len(frl)-1].off} {
		if w := fmt.Sprintf("offset=%d", off); !strings.Contains(lb.String(), w) {
			t.Errorf("log does not name %s:\n%s", w, lb)
		}
	}
	checkBytes(t, s, dir)
	// Appends go on in a fresh segment.
	if seq := mustAppend(t, s, record(n+1, 100)); seq != n+1 {
		t.Errorf("Append = %d, want %d", seq, n+1)
	}
	s.Release()
	want = append(want, n+1)
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, want) {
		t.Errorf("records after Release = %v, want %v", got, want)
	}
	s.Close()

	s = mustOpen(t, dir, Options{SegmentBytes: 2048})
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, want) {
		t.Errorf("records after reopen = %v, want %v", got, want)
	}
	if st := s.Stats(); st.Dropped != 2 {
		t.Errorf("Dropped after reopen = %d, want 2", st.Dropped)
	}
}

func TestBadStateFile(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 10, 10)
	if err := s.Commit(4); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Both slots damaged (one damaged slot is a torn write: TestStateTornSlot).
	patch(t, filepath.Join(dir, stateName), 10, []byte{0xff, 0xff})
	patch(t, filepath.Join(dir, stateName), stateSlotSize+10, []byte{0xff, 0xff})

	log, lb := newLogger()
	s = mustOpen(t, dir, Options{Logger: log})
	if !strings.Contains(lb.String(), "level=ERROR") {
		t.Errorf("damaged state not logged:\n%s", lb)
	}
	// The commit point is unknown: everything on disk is sent again, and no
	// seq is reused.
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(1, 10)) {
		t.Errorf("records = %v, want 1..10 (all still on disk)", got)
	}
	if seq := mustAppend(t, s, record(11, 10)); seq <= 10 {
		t.Errorf("Append = %d, want far above 10", seq)
	}
}

func TestUnknownFormat(t *testing.T) {
	for _, file := range []string{segName(1), stateName} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			appendN(t, s, 3, 10)
			s.Commit(1)
			s.Close()
			path := filepath.Join(dir, file)
			patch(t, path, 7, []byte{9}) // the version byte
			before, _ := os.ReadFile(path)
			_, err := Open(dir, Options{})
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), file) {
				t.Errorf("Open = %v, want ErrFormat naming %s", err, file)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("Open changed %s", file)
			}
		})
	}
}

func TestLeftoverTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 3, 10)
	s.Commit(1)
	s.Close()
	for _, name := range []string{stateName + tmpSuffix, segName(1) + tmpSuffix} {
		os.WriteFile(filepath.Join(dir, name), []byte("half written"), 0o600)
	}
	s = mustOpen(t, dir, Options{})
	if got := seqsOf(leaseAll(t, s)); !slices.Equal(got, seqRange(2, 3)) {
		t.Errorf("records = %v, want 2..3", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*"+tmpSuffix)); len(m) != 0 {
		t.Errorf("temp files left: %v", m)
	}
}
