// Package spool is the agent's durable outbox. It owns the records that sensors
// have produced and the collector has not yet acknowledged: Append assigns a
// record its sequence number and writes it to disk (fsynced) before returning,
// Lease hands the uplink the next records to send, Commit forgets everything the
// collector acked, Release rewinds the leases after a reconnect.
//
// A spool is one directory: segment files seg-<first seq>.log holding framed
// records (length, CRC-32C, seq, then the CBOR of the wire.Record), a state file
// with the commit point, the last assigned seq and the lifetime count of dropped
// records (preallocated and written in place in one of two slots, so that
// commits and drops work on a full disk and free its space), and a lock file
// that keeps a second process out. It survives kill -9 and power loss at any
// instant: Open truncates a torn tail, cuts out damaged records (counting them
// as dropped, logging file and offset), ignores a torn state slot in favour of
// the other and keeps everything intact. It is bounded by bytes: past the
// bound the oldest unacknowledged segments are dropped and counted.
//
// It knows nothing about the network or about record bodies; delivery belongs
// to the uplink, encoding to pkg/wire.
package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Defaults for Options.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 8 << 20
)

// maxKind is the longest record kind the collector accepts (wire.Record.Check).
const maxKind = 32

// Errors.
var (
	// ErrTooLarge refuses a record whose body is over wire.MaxRecordSize. It is a
	// *wire.Error, so wire.CodeOf reports wire.CodeRecordTooLarge.
	ErrTooLarge error = &wire.Error{Code: wire.CodeRecordTooLarge}
	// ErrInvalid refuses a record the collector would refuse (bad kind or encoding).
	ErrInvalid = errors.New("invalid record")
	// ErrNotAppended refuses a Commit beyond the highest appended seq.
	ErrNotAppended = errors.New("seq not appended yet")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("spool closed")
	// ErrLocked means another process has the spool directory open.
	ErrLocked = errors.New("spool in use by another process")
	// ErrFormat means a file in the spool was written in a format this build
	// does not read (a newer agent's, after a downgrade). Nothing is touched.
	ErrFormat = errors.New("unknown spool format")
)

// Options tune a spool. The zero value is durable with the default bounds.
type Options struct {
	MaxBytes     int64        // bound on bytes held on disk; 0 = 256 MiB default
	SegmentBytes int64        // segment file size before rolling; 0 = 8 MiB default; at most MaxBytes/4
	NoSync       bool         // skip fsync (only for benchmarks/loadgen); default is durable
	Logger       *slog.Logger // nil = discard
}

// Stats is a snapshot of a spool. Records, Bytes and Dropped are counts;
// NextSeq, Committed and Leased are sequence numbers.
type Stats struct {
	Records   uint64 // records on disk waiting for an ack (neither committed nor dropped)
	Bytes     uint64 // bytes of the segment files on disk
	Dropped   uint64 // records dropped over the spool's lifetime (bound, damage or a full disk), persisted
	NextSeq   uint64 // the seq the next Append assigns
	Committed uint64 // commit point: every seq <= Committed is acked
	Leased    uint64 // highest seq handed out by Lease since the last Release (>= Committed)
}

// Spool is a durable, bounded outbox of wire.Records. It is safe for
// concurrent use: many goroutines may Append while one uplink Leases, Commits
// and Releases.
type Spool struct {
	dir    string
	opts   Options
	log    *slog.Logger
	lock   io.Closer
	notify chan struct{}
	sf     *stateFile // nil until the format-2 state file exists (see save)

	mu        sync.Mutex
	closed    bool
	broken    error      // a failed write could not be undone; Append refuses until reopened
	full      bool       // the last Append failed for want of disk space
	segs      []*segment // oldest first
	active    *segment   // where Append writes; nil: Append starts a new segment
	dirDirty  bool       // a segment was created and its directory entry is not yet synced
	lastSeq   uint64     // highest seq assigned
	committed uint64
	dropFloor uint64 // every unacked seq <= dropFloor was dropped
	dropped   uint64
	records   uint64 // records on disk above the floor
	bytes     int64  // bytes of all segment files
	poisoned  uint64 // highest seq skipped because it did not decode

	cur   cursor        // lease cursor
	br    *bufio.Reader // reads the cursor's segment at brOff
	brSeg *segment
	brOff int64
	brEnd int64  // seg.size when the reader was last reset: it reads no further
	wbuf  []byte // frame being written
	pbuf  []byte // payload being read
}

// cursor is where the next Lease reads: frames at or after (seg, off) with a seq
// above after. seg nil means the first segment.
type cursor struct {
	seg   *segment
	off   int64
	after uint64 // highest seq leased
}

// Open opens the spool in dir, creating it if needed, and recovers from
// whatever a crash left behind.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes < 0 || opts.SegmentBytes < 0 {
		return nil, fmt.Errorf("open spool %s: negative size in options", dir)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	// Dropping one segment must not throw away most of the spool.
	opts.SegmentBytes = max(min(opts.SegmentBytes, opts.MaxBytes/4), 1)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	s := &Spool{
		dir:    dir,
		opts:   opts,
		log:    log,
		lock:   lock,
		notify: make(chan struct{}, 1),
		br:     bufio.NewReaderSize(nil, 64<<10),
	}
	if err := s.load(); err != nil {
		s.closeFiles()
		if s.sf != nil {
			s.sf.close()
		}
		lock.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	return s, nil
}

// load reads the state and scans every segment, repairing what a crash or the
// disk damaged.
func (s *Spool) load() error {
	ls, err := readState(s.dir)
	badState := errors.Is(err, errBadState)
	if err != nil && !badState {
		return err
	}
	st := ls.state
	if badState {
		s.log.Error("spool state file is damaged; every record on disk will be sent again and sequence numbers jump ahead",
			"file", filepath.Join(s.dir, stateName), "err", err)
	}
	if ls.torn {
		s.log.Warn("spool state file has a damaged slot (a write torn by a crash); using the other, older one",
			"file", filepath.Join(s.dir, stateName), "committed", st.Committed, "last", st.Last)
	}
	if ls.found && !ls.v1 {
		// Format 2: written in place from now on. A file of the wrong size
		// (damaged) is replaced by save below.
		if sf, err := openStateFile(s.dir, ls.gen, !s.opts.NoSync); err == nil {
			s.sf = sf
		}
	}

	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read dir: %w", err)
	}
	var bases []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			// An interrupted state write or segment repair; the original is intact.
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove %s: %w", name, err)
			}
			continue
		}
		if base, ok := parseSegName(name); ok && e.Type().IsRegular() {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)

	floor := st.floor()
	var lost, prev uint64
	var stale []string // segments acked or dropped; removed once the state is settled
	for i, base := range bases {
		name := segName(base)
		path := filepath.Join(s.dir, name)
		var upper uint64 // highest seq the segment may hold; 0 for the last
		if i+1 < len(bases) {
			upper = bases[i+1] - 1
		}
		if upper != 0 && upper <= floor {
			// Acked or dropped before the crash; the state write came first.
			stale = append(stale, path)
			continue
		}
		res, err := scanSegment(path, base, prev, upper)
		if err != nil {
			return err
		}
		lost += s.report(path, &res, floor)
		if err := fixSegment(path, &res, !s.opts.NoSync); err != nil {
			return err
		}
		if res.count == 0 {
			continue
		}
		prev = res.last
		s.segs = append(s.segs, &segment{name: name, base: base, first: res.first, last: res.last, count: res.count, size: res.size, gaps: res.gaps})
	}
	for len(s.segs) > 0 && s.segs[0].last <= floor {
		stale = append(stale, filepath.Join(s.dir, s.segs[0].name))
		s.segs = s.segs[1:]
	}

	onDisk := floor
	if n := len(s.segs); n > 0 {
		onDisk = max(onDisk, s.segs[n-1].last)
	}
	s.lastSeq = max(st.Last, onDisk)
	if st.Last > onDisk {
		// Appended (and fsynced) before the state was written, now gone: the
		// disk lost them, or they were appended with NoSync before a power cut.
		s.log.Error("spool lost appended records", "dir", s.dir, "first", onDisk+1, "last", st.Last)
		lost += st.Last - onDisk
	}
	if badState {
		// The commit point and the last seq are unknown. Resending is safe (the
		// collector dedupes on seq); reusing a seq is not, so jump far ahead.
		s.lastSeq += 1 << 40
	}
	s.committed, s.dropFloor, s.dropped = st.Committed, st.DropFloor, st.Dropped+lost
	for _, seg := range s.segs {
		s.bytes += seg.size
		s.records += seg.countAbove(floor)
	}
	if n := len(s.segs); n > 0 && s.segs[n-1].last == s.lastSeq {
		s.active = s.segs[n-1]
	}
	s.cur = cursor{after: floor}
	if err := s.settle(lost > 0 || badState || st.Last != s.lastSeq, ls.v1); err != nil {
		return err
	}
	if badState && s.sf != nil && s.sf.gen < 2 {
		// The damaged file was reused in place: overwrite its other slot
		// too, lest it pass for a torn write at the next Open.
		if err := s.save(); err != nil {
			return err
		}
	}
	if len(stale) > 0 && len(s.segs) == 0 && s.sf != nil {
		// No segment will hold the last seq: both slots must, so that a
		// damaged newest slot cannot make a seq be assigned twice.
		if err := s.save(); err != nil {
			return err
		}
		if err := s.save(); err != nil {
			return err
		}
	}
	for _, path := range stale {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove segment %s: %w", path, err)
		}
	}
	return nil
}

// settle writes the state at the end of load: need says it changed; v1 that
// the file is in format 1.
func (s *Spool) settle(need, v1 bool) error {
	if s.sf == nil {
		// A new spool, a spool of an older agent (format 1) or a damaged
		// state file: write the preallocated state file now, while there
		// is (hopefully) room; every later state write is in place.
		err := s.save()
		switch {
		case err == nil && v1:
			s.log.Info("spool state file migrated to format 2 (preallocated, written in place)", "file", filepath.Join(s.dir, stateName))
		case err != nil && (need || !diskFull(err)):
			return err
		case err != nil:
			s.log.Warn("spool cannot preallocate its state file for want of disk space; commits need free space until it can",
				"file", filepath.Join(s.dir, stateName), "err", err)
		}
		return nil
	}
	if need {
		if err := s.save(); err != nil {
			return err
		}
	}
	return nil
}

// report logs what a scan found and returns how many records above floor it
// lost.
func (s *Spool) report(path string, res *scanResult, floor uint64) uint64 {
	var lost uint64
	for _, d := range res.damage {
		lo := max(d.lo, floor+1)
		n := uint64(0)
		if d.hi >= lo {
			n = d.hi - lo + 1
		}
		lost += n
		if d.hi < d.lo {
			s.log.Error("spool segment has damaged bytes; cut out, no record lost", "file", path, "offset", d.off)
			continue
		}
		s.log.Error("spool segment is damaged; records cut out", "file", path, "offset", d.off,
			"lost", n, "first_lost", d.lo, "last_lost", d.hi)
	}
	if res.tornAt >= 0 && res.tornBytes > 0 {
		s.log.Warn("spool segment ends in a torn record; truncated", "file", path, "offset", res.tornAt, "bytes", res.tornBytes)
	}
	return lost
}

// save persists the state: in place in the preallocated state file, which
// needs no free disk space, so that a commit on a full disk can delete the
// acked segments. Until that file exists (a spool of an older agent, or one
// opened on a full disk) save first tries to create it, which needs space; the
// old file stays as it was if that fails.
func (s *Spool) save() error {
	st := state{Committed: s.committed, DropFloor: s.dropFloor, Last: s.lastSeq, Dropped: s.dropped}
	if s.sf == nil {
		sf, err := createStateFile(s.dir, st, !s.opts.NoSync)
		if err != nil {
			return err
		}
		s.sf = sf
		return nil
	}
	return s.sf.write(st)
}

func (s *Spool) floor() uint64 { return max(s.committed, s.dropFloor) }

func (s *Spool) path(seg *segment) string { return filepath.Join(s.dir, seg.name) }

// checkRecord refuses what the collector would refuse, so that one bad record
// cannot block every batch after it.
func checkRecord(r wire.Record) error {
	if len(r.Body) > wire.MaxRecordSize {
		return fmt.Errorf("append %s record: body is %d bytes, limit %d: %w", r.Kind, len(r.Body), wire.MaxRecordSize, ErrTooLarge)
	}
	if r.Kind == "" || len(r.Kind) > maxKind {
		return fmt.Errorf("append record: kind %q: %w", r.Kind, ErrInvalid)
	}
	if r.Enc > wire.EncCBORZstd {
		return fmt.Errorf("append %s record: body encoding %d: %w", r.Kind, r.Enc, ErrInvalid)
	}
	return nil
}

// Append assigns r the next seq, writes it durably (fsync unless NoSync) and
// returns the seq. Seqs are strictly increasing over the spool's life, across
// restarts and after everything was committed. When the record would push the
// spool over MaxBytes, the oldest whole segments (never the one being written)
// are dropped first and counted in Stats.Dropped.
func (s *Spool) Append(r wire.Record) (uint64, error) {
	if err := checkRecord(r); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if s.broken != nil {
		return 0, fmt.Errorf("append: spool needs reopening: %w", s.broken)
	}
	r.Seq = s.lastSeq + 1
	payload, err := wire.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode %s record: %w", r.Kind, err)
	}
	if len(payload) > maxPayload {
		return 0, fmt.Errorf("append %s record: %d bytes encoded: %w", r.Kind, len(payload), ErrTooLarge)
	}
	n := int64(frameHdrSize + len(payload))
	if err := s.prepare(r.Seq, n); err != nil {
		return 0, s.lost(err)
	}
	seg := s.active
	s.wbuf = append(s.wbuf[:0], make([]byte, frameHdrSize)...)
	s.wbuf = append(s.wbuf, payload...)
	putFrameHeader(s.wbuf, r.Seq, payload)
	err = s.write(seg, s.wbuf)
	if cap(s.wbuf) > 1<<20 {
		s.wbuf = nil // do not hold on to the memory of a rare large record
	}
	if err != nil {
		return 0, s.lost(err)
	}
	if seg.count == 0 {
		seg.first = r.Seq
	}
	seg.last = r.Seq
	seg.count++
	seg.size += n
	s.bytes += n
	s.records++
	s.lastSeq = r.Seq
	s.full = false
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return r.Seq, nil
}

// lost counts a record that could not be appended for want of disk space
// as dropped, so that health records report it (the collector's rule
// spool-dropped): a full disk loses records like the bound does. The count
// is saved at once (in place, which a full disk allows; failing that, with
// the next state write). It returns err.
func (s *Spool) lost(err error) error {
	if diskFull(err) {
		s.dropped++
		s.full = true
		_ = s.save()
	}
	return err
}

// fakeFullDisk, set only by tests, makes every write that needs new disk
// blocks (creating a file, appending to a segment) fail as on a full disk.
// Writes in place into the state file do not consult it: they need none.
var fakeFullDisk atomic.Bool

// noSpace returns the error a full disk gives for op on path when
// fakeFullDisk is set, else nil.
func noSpace(op, path string) error {
	if !fakeFullDisk.Load() {
		return nil
	}
	var errno error = syscall.ENOSPC
	if runtime.GOOS == "windows" {
		errno = syscall.Errno(112) // ERROR_DISK_FULL
	}
	return &os.PathError{Op: op, Path: path, Err: errno}
}

// diskFull reports whether err says the disk (or the user's quota) is full.
func diskFull(err error) bool {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return false
	}
	if runtime.GOOS == "windows" {
		return en == 112 || en == 39 // ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL
	}
	return en == syscall.ENOSPC || en == syscall.EDQUOT
}

// prepare makes sure there is an active segment with room for a frame of n
// bytes and that the spool stays within MaxBytes once it is written.
func (s *Spool) prepare(seq uint64, n int64) error {
	if a := s.active; a != nil && a.count > 0 && a.size+n > s.opts.SegmentBytes {
		s.retire()
	}
	if s.active == nil {
		if err := s.create(seq); err != nil {
			return err
		}
	}
	if s.active.w == nil {
		f, err := os.OpenFile(s.path(s.active), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open segment %s: %w", s.active.name, err)
		}
		s.active.w = f
	}
	return s.makeRoom(n)
}

// create starts a new active segment for seq.
func (s *Spool) create(seq uint64) error {
	seg := &segment{name: segName(seq), base: seq, size: segHdrSize}
	path := s.path(seg)
	if err := noSpace("open", path); err != nil {
		return fmt.Errorf("create segment %s: %w", seg.name, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create segment %s: %w", seg.name, err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create segment %s: %w", seg.name, err)
	}
	seg.w = f
	s.segs = append(s.segs, seg)
	s.active = seg
	s.bytes += seg.size
	s.dirDirty = true
	return nil
}

// retire stops writing to the active segment.
func (s *Spool) retire() {
	a := s.active
	if a == nil {
		return
	}
	if a.w != nil {
		a.w.Close()
		a.w = nil
	}
	s.active = nil
}

// write writes a frame at the end of seg and syncs it. On failure it cuts the
// file back, so that a half-written frame never sits before later ones.
func (s *Spool) write(seg *segment, frame []byte) error {
	off := seg.size
	err := noSpace("write", s.path(seg))
	if err == nil {
		_, err = seg.w.WriteAt(frame, off)
	}
	if err != nil {
		err = fmt.Errorf("write segment %s: %w", seg.name, err)
	} else if !s.opts.NoSync {
		if serr := seg.w.Sync(); serr != nil {
			err = fmt.Errorf("sync segment %s: %w", seg.name, serr)
		} else if s.dirDirty {
			if derr := syncDir(s.dir); derr != nil {
				err = fmt.Errorf("sync dir %s: %w", s.dir, derr)
			} else {
				s.dirDirty = false
			}
		}
	}
	if err == nil {
		return nil
	}
	if terr := seg.w.Truncate(off); terr != nil {
		s.broken = fmt.Errorf("truncate segment %s after failed write: %w", seg.name, terr)
		s.log.Error("spool cannot undo a failed write; appends refused until reopened",
			"file", s.path(seg), "offset", off, "err", err, "truncate_err", terr)
	} else if seg.count > 0 {
		// After a failed sync the kernel may have dropped dirty pages of
		// this file; write the next records to a fresh one.
		s.retire()
	}
	return err
}

// makeRoom drops the oldest segments (never the active one) until a frame of n
// bytes fits under MaxBytes. The state is written before any file is removed.
func (s *Spool) makeRoom(n int64) error {
	over := s.bytes + n - s.opts.MaxBytes
	if over <= 0 {
		return nil
	}
	floor := s.floor()
	var drop []*segment
	var freed int64
	var lost uint64
	newFloor := floor
	for _, seg := range s.segs {
		if freed >= over || seg == s.active {
			break
		}
		drop = append(drop, seg)
		freed += seg.size
		lost += seg.countAbove(newFloor)
		newFloor = max(newFloor, seg.last)
	}
	if len(drop) == 0 {
		return nil
	}
	oldFloor, oldDropped := s.dropFloor, s.dropped
	s.dropFloor, s.dropped = max(s.dropFloor, newFloor), s.dropped+lost
	if err := s.save(); err != nil {
		s.dropFloor, s.dropped = oldFloor, oldDropped
		return fmt.Errorf("drop oldest records: %w", err)
	}
	s.log.Warn("spool full; dropped oldest unacked records", "dir", s.dir, "records", lost,
		"segments", len(drop), "up_to_seq", newFloor, "max_bytes", s.opts.MaxBytes, "dropped_total", s.dropped)
	s.records -= lost
	for _, seg := range drop {
		s.remove(seg)
	}
	if s.cur.after < newFloor {
		s.cur.after = newFloor
	}
	return nil
}

// remove deletes seg's file and forgets it. The state must already say that
// its records are acked or dropped, so a failure only costs disk space until
// the next Open.
func (s *Spool) remove(seg *segment) {
	s.closeSeg(seg)
	if err := os.Remove(s.path(seg)); err != nil {
		s.log.Error("spool cannot remove a segment", "file", s.path(seg), "err", err)
	}
	s.forget(seg)
}

// forget drops seg from the spool's bookkeeping and moves the cursor off it.
func (s *Spool) forget(seg *segment) {
	i := slices.Index(s.segs, seg)
	if i < 0 {
		return
	}
	s.segs = slices.Delete(s.segs, i, i+1)
	s.bytes -= seg.size
	if s.active == seg {
		s.active = nil
	}
	if s.cur.seg == seg {
		s.cur.seg, s.cur.off = nil, 0
		if i < len(s.segs) {
			s.cur.seg, s.cur.off = s.segs[i], segHdrSize
		}
		s.cur.after = max(s.cur.after, seg.last)
	}
}

// closeSeg closes seg's file handles.
func (s *Spool) closeSeg(seg *segment) {
	if seg.w != nil {
		seg.w.Close()
		seg.w = nil
	}
	s.closeReader(seg)
}

func (s *Spool) closeReader(seg *segment) {
	if seg.r != nil {
		seg.r.Close()
		seg.r = nil
	}
	if s.brSeg == seg {
		s.brSeg = nil
	}
}

// Lease returns the next records after the lease cursor in seq order and
// advances the cursor: at most maxRecords records and, unless the first alone
// is larger, at most maxBytes bytes of encoded record (their CBOR, as it will
// travel in a batch). maxRecords <= 0 means wire.MaxBatchCount, maxBytes <= 0
// wire.MaxBatchSize. It returns nil, nil when nothing is waiting. Several leases
// may be outstanding; Release rewinds them all.
func (s *Spool) Lease(maxRecords, maxBytes int) ([]wire.Record, error) {
	if maxRecords <= 0 {
		maxRecords = wire.MaxBatchCount
	}
	if maxBytes <= 0 {
		maxBytes = wire.MaxBatchSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []wire.Record
	used := 0
	repaired := false
	for len(out) < maxRecords {
		c := &s.cur
		if c.seg == nil {
			if len(s.segs) == 0 {
				break
			}
			c.seg, c.off = s.segs[0], segHdrSize
		}
		seg := c.seg
		if c.off >= seg.size {
			i := slices.Index(s.segs, seg)
			if i < 0 || i+1 >= len(s.segs) {
				break
			}
			s.closeReader(seg)
			c.seg, c.off = s.segs[i+1], segHdrSize
			continue
		}
		fh, err := s.peek(seg, c.off)
		if err == nil && fh.seq > c.after && len(out) > 0 && used+fh.n > maxBytes {
			break
		}
		var payload []byte
		if err == nil {
			payload, err = s.readPayload(seg, c.off, fh)
		}
		if err != nil {
			var ce *corruptError
			if errors.As(err, &ce) && !repaired {
				repaired = true
				if err = s.repair(seg, ce); err == nil {
					continue
				}
			}
			if len(out) > 0 {
				break // the records so far are good; the next Lease meets the error again
			}
			return nil, fmt.Errorf("lease: %w", err)
		}
		c.off += frameHdrSize + int64(fh.n)
		if fh.seq <= c.after {
			continue // acked, or leased before
		}
		var r wire.Record
		if err := wire.Unmarshal(payload, &r); err != nil || r.Seq != fh.seq {
			s.poison(seg, c.off-frameHdrSize-int64(fh.n), fh.seq, err)
			c.after = fh.seq
			continue
		}
		out = append(out, r)
		used += fh.n
		c.after = fh.seq
	}
	if cap(s.pbuf) > 1<<20 {
		s.pbuf = nil
	}
	return out, nil
}

// corruptError is a frame that fails its checks while leasing.
type corruptError struct {
	file string
	off  int64
	why  string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("corrupt record in segment %s at offset %d: %s", e.file, e.off, e.why)
}

// peek reads the frame header at off in seg without consuming it.
func (s *Spool) peek(seg *segment, off int64) (frameHeader, error) {
	if err := s.seekReader(seg, off); err != nil {
		return frameHeader{}, err
	}
	if seg.size-off < frameHdrSize {
		return frameHeader{}, &corruptError{s.path(seg), off, "partial frame header"}
	}
	b, err := s.br.Peek(frameHdrSize)
	if err != nil {
		s.brSeg = nil
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return frameHeader{}, &corruptError{s.path(seg), off, "file shorter than expected"}
		}
		return frameHeader{}, fmt.Errorf("read segment %s at %d: %w", seg.name, off, err)
	}
	fh := parseFrameHeader(b)
	if fh.n <= 0 || fh.n > maxPayload || off+frameHdrSize+int64(fh.n) > seg.size {
		return frameHeader{}, &corruptError{s.path(seg), off, fmt.Sprintf("bad length %d", fh.n)}
	}
	return fh, nil
}

// readPayload consumes the frame whose header peek returned and checks its CRC.
// The payload is valid until the next call.
func (s *Spool) readPayload(seg *segment, off int64, fh frameHeader) ([]byte, error) {
	var h [frameHdrSize]byte
	if _, err := io.ReadFull(s.br, h[:]); err != nil {
		s.brSeg = nil
		return nil, fmt.Errorf("read segment %s at %d: %w", seg.name, off, err)
	}
	if cap(s.pbuf) < fh.n {
		s.pbuf = make([]byte, fh.n)
	}
	p := s.pbuf[:fh.n]
	if _, err := io.ReadFull(s.br, p); err != nil {
		s.brSeg = nil
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &corruptError{s.path(seg), off, "file shorter than expected"}
		}
		return nil, fmt.Errorf("read segment %s at %d: %w", seg.name, off, err)
	}
	s.brOff += frameHdrSize + int64(fh.n)
	if frameCRC(h[:], p) != fh.crc {
		return nil, &corruptError{s.path(seg), off, "checksum mismatch"}
	}
	return p, nil
}

// seekReader points the buffered reader at off in seg.
func (s *Spool) seekReader(seg *segment, off int64) error {
	// The reader is bounded by the segment's size at reset time. Reusing it
	// after an append would hand out the EOF that bufio kept from its
	// read-ahead, and the fresh records would look truncated; so a grown
	// segment gets a fresh reader.
	if s.brSeg == seg && s.brOff == off && s.brEnd == seg.size {
		return nil
	}
	if seg.r == nil {
		f, err := os.Open(s.path(seg))
		if err != nil {
			return fmt.Errorf("open segment %s: %w", seg.name, err)
		}
		seg.r = f
	}
	s.br.Reset(io.NewSectionReader(seg.r, off, seg.size-off))
	s.brSeg, s.brOff, s.brEnd = seg, off, seg.size
	return nil
}

// repair handles damage found while leasing: it rescans the segment, cuts the
// damage out (or truncates it), counts what was lost as dropped and persists
// that. Writing continues in a new segment.
func (s *Spool) repair(seg *segment, ce *corruptError) error {
	s.log.Error("spool record is damaged; repairing the segment", "file", ce.file, "offset", ce.off, "reason", ce.why)
	if seg == s.active {
		s.retire()
	}
	s.closeSeg(seg)
	prev := uint64(0)
	if i := slices.Index(s.segs, seg); i > 0 {
		prev = s.segs[i-1].last
	}
	path := s.path(seg)
	res, err := scanSegment(path, seg.base, prev, seg.last)
	if err != nil {
		return err
	}
	floor := s.floor()
	before := seg.countAbove(floor)
	lost := s.report(path, &res, floor)
	if err := fixSegment(path, &res, !s.opts.NoSync); err != nil {
		return err
	}
	s.bytes += res.size - seg.size
	seg.first, seg.last, seg.count, seg.size, seg.gaps = res.first, res.last, res.count, res.size, res.gaps
	if res.count == 0 {
		seg.size = 0 // already subtracted from s.bytes
		s.forget(seg)
	}
	s.records = s.records - before + seg.countAbove(floor)
	if s.cur.seg == seg {
		s.cur.off = segHdrSize // frames at or below cur.after are skipped
	}
	if lost > 0 {
		s.dropped += lost
		if err := s.save(); err != nil {
			return err
		}
	}
	return nil
}

// poison skips a record whose frame is intact but whose CBOR does not decode
// (written by a broken build); it counts as dropped once.
func (s *Spool) poison(seg *segment, off int64, seq uint64, err error) {
	if err == nil {
		err = errors.New("seq in record differs from frame")
	}
	s.log.Error("spool record does not decode; skipped", "file", s.path(seg), "offset", off, "seq", seq, "err", err)
	if seq > s.poisoned {
		s.poisoned = seq
		s.dropped++
	}
}

// Commit records that the collector acked every seq <= seq: it persists the
// commit point and deletes the segments that hold nothing newer. A seq at or
// below the commit point is a no-op; one above the highest appended seq is an
// error. Seqs that were dropped while leased may be committed.
func (s *Spool) Commit(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq > s.lastSeq {
		return fmt.Errorf("commit %d: %w (last appended is %d)", seq, ErrNotAppended, s.lastSeq)
	}
	if seq <= s.committed {
		return nil
	}
	oldFloor, prev := s.floor(), s.committed
	s.committed = seq
	if err := s.save(); err != nil {
		s.committed = prev
		return fmt.Errorf("commit %d: %w", seq, err)
	}
	s.removeAcked(oldFloor)
	return nil
}

// removeAcked removes the segments that hold nothing above the floor, after
// the state saying so was saved. The segment being written stays (the next
// records would need a new file), except when the disk is full: then it may
// be the one that filled it.
func (s *Spool) removeAcked(oldFloor uint64) {
	floor := s.floor()
	if floor > oldFloor {
		for _, seg := range s.segs {
			if seg.count == 0 || seg.first > floor {
				break
			}
			s.records -= seg.countAbove(oldFloor) - seg.countAbove(floor)
		}
	}
	witnessed := false
	for len(s.segs) > 0 {
		seg := s.segs[0]
		if seg.last > floor || (seg == s.active && (!s.full || seg.count == 0)) {
			break
		}
		if len(s.segs) == 1 && !witnessed {
			// No segment will hold the last seq: both slots must, so that
			// a damaged newest slot cannot make a seq be assigned twice.
			if err := s.save(); err != nil {
				s.log.Error("spool cannot write its state a second time; keeping the last segment", "file", s.path(seg), "err", err)
				break
			}
			witnessed = true
		}
		s.remove(seg)
	}
	if s.cur.after < floor {
		s.cur.after = floor
	}
}

// Release forgets the outstanding leases: the next Lease starts again right
// after the commit point. The uplink calls it when a connection is lost.
func (s *Spool) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = cursor{after: s.floor()}
}

// Notify returns a channel that receives (without blocking the sender, buffer
// of one) whenever a record is appended.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Stats returns a snapshot of the spool.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Records:   s.records,
		Bytes:     uint64(s.bytes),
		Dropped:   s.dropped,
		NextSeq:   s.lastSeq + 1,
		Committed: s.committed,
		Leased:    max(s.cur.after, s.committed),
	}
}

// Close syncs and closes the spool's files and releases the directory lock.
// Every method returns ErrClosed afterwards; Close itself may be called again.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.broken == nil {
		if err := s.save(); err != nil {
			errs = append(errs, err)
		}
	}
	s.closeFiles()
	if s.sf != nil {
		if err := s.sf.close(); err != nil {
			errs = append(errs, fmt.Errorf("close state: %w", err))
		}
		s.sf = nil
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("unlock %s: %w", s.dir, err))
	}
	return errors.Join(errs...)
}

// closeFiles closes every segment handle.
func (s *Spool) closeFiles() {
	for _, seg := range s.segs {
		s.closeSeg(seg)
	}
	s.active = nil
}
