package spool

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Segment file layout:
//
//	magic "SVSPOOL" + format version byte                      8 bytes
//	frame*:
//	  payload length  uint32 big-endian                          4 bytes
//	  CRC-32C         of length, seq and payload                 4 bytes
//	  seq             uint64 big-endian, equal to the record's   8 bytes
//	  payload         deterministic CBOR of the wire.Record
//
// The seq in the frame header lets the spool skip records without decoding
// them. The CRC covers the length too, so a run of zero bytes (what a power cut
// can leave at the end of a file) never passes for a frame.
const (
	segMagic     = "SVSPOOL\x01"
	segHdrSize   = int64(len(segMagic))
	frameHdrSize = 16
	// maxPayload bounds a frame's payload: a body at the wire limit plus the
	// envelope (seq, kind of at most 32 bytes, time, encoding) with room to spare.
	maxPayload = wire.MaxRecordSize + 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC returns the checksum of a frame: its length and seq fields and payload.
func frameCRC(hdr, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[0:4])
	c = crc32.Update(c, castagnoli, hdr[8:16])
	return crc32.Update(c, castagnoli, payload)
}

// putFrameHeader fills hdr (frameHdrSize bytes) for payload with the given seq.
func putFrameHeader(hdr []byte, seq uint64, payload []byte) {
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(hdr[8:16], seq)
	binary.BigEndian.PutUint32(hdr[4:8], frameCRC(hdr, payload))
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	n   int // payload length
	crc uint32
	seq uint64
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		n:   int(binary.BigEndian.Uint32(b[0:4])),
		crc: binary.BigEndian.Uint32(b[4:8]),
		seq: binary.BigEndian.Uint64(b[8:16]),
	}
}

// segName returns the file name of the segment created for seq base.
func segName(base uint64) string { return fmt.Sprintf("seg-%020d.log", base) }

// parseSegName returns the base seq of a segment file name.
func parseSegName(name string) (uint64, bool) {
	if len(name) != len("seg-")+20+len(".log") || !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".log") {
		return 0, false
	}
	base, err := strconv.ParseUint(name[4:24], 10, 64)
	if err != nil || base == 0 {
		return 0, false
	}
	return base, true
}

// segment is one segment file. Its records have strictly increasing seqs, all
// above those of the segments before it.
type segment struct {
	name  string   // file name inside the spool directory
	base  uint64   // seq it was created for (in its name); orders the segments
	first uint64   // first record's seq; 0 while empty
	last  uint64   // last record's seq; 0 while empty
	count uint64   // records in the file
	size  int64    // bytes of header and whole frames
	gaps  []gap    // seqs between first and last that it does not hold (damage cut out)
	w     *os.File // write handle, only while it is the active segment
	r     *os.File // read handle, while the lease cursor is on it
}

// gap is a run of missing seqs, inclusive.
type gap struct{ lo, hi uint64 }

// countAbove returns how many of the segment's records have a seq above x.
func (g *segment) countAbove(x uint64) uint64 {
	switch {
	case g.count == 0 || x >= g.last:
		return 0
	case x < g.first:
		return g.count
	}
	n := g.last - x
	for _, m := range g.gaps {
		if lo := max(m.lo, x+1); m.hi >= lo {
			n -= m.hi - lo + 1
		}
	}
	return n
}

// span is a byte range of a segment file.
type span struct{ off, n int64 }

// damage is a bad region of a segment and the seqs it took with it.
type damage struct {
	off    int64  // file offset where the bad bytes begin
	lo, hi uint64 // seqs lost, inclusive; lo > hi when none are known
}

// repair says what scanSegment wants done to the file.
type repair int

const (
	repairNone     repair = iota
	repairTruncate        // cut the file at size
	repairRewrite         // copy keep into a new file
	repairRemove          // the file holds no record
)

// scanResult is what scanSegment found in one segment file.
type scanResult struct {
	first, last, count uint64
	gaps               []gap // missing seqs between first and last
	size               int64 // size after the repair
	fix                repair
	keep               []span   // frames to keep, for repairRewrite
	damage             []damage // bad regions followed by records, or at the end of a segment whose last seq is known
	tornAt             int64    // offset of a torn tail, -1 if none
	tornBytes          int64
}

func (res *scanResult) add(seq uint64) {
	if res.count == 0 {
		res.first = seq
	} else if seq != res.last+1 {
		res.gaps = append(res.gaps, gap{res.last + 1, seq - 1})
	}
	res.last = seq
	res.count++
}

// scanSegment reads the segment file at path and checks every frame. base is
// the seq in its name, prev the highest seq of the segments before it, upper the
// highest seq it may hold or 0 when unknown (the last segment: whatever follows
// damage there is a torn tail from a crash, not a loss). It changes nothing on
// disk; the caller applies fixSegment.
func scanSegment(path string, base, prev, upper uint64) (scanResult, error) {
	res := scanResult{tornAt: -1}
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("open segment %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat segment %s: %w", path, err)
	}
	size := fi.Size()
	if base > 0 && prev < base-1 {
		prev = base - 1
	}

	var hdr [segHdrSize]byte
	n, err := io.ReadFull(f, hdr[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return res, fmt.Errorf("read segment %s: %w", path, err)
	}
	badAt := int64(-1)
	if n < len(hdr) || string(hdr[:]) != segMagic {
		if n == len(hdr) && string(hdr[:7]) == segMagic[:7] {
			return res, fmt.Errorf("segment %s has format version %d, want %d: %w", path, hdr[7], segMagic[7], ErrFormat)
		}
		badAt = 0
	} else {
		// The fast path: read frame after frame until the end or the first bad one.
		off := segHdrSize
		br := bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 256<<10)
		var h [frameHdrSize]byte
		var payload []byte
		for off < size {
			if size-off < frameHdrSize {
				badAt = off
				break
			}
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return res, fmt.Errorf("read segment %s at %d: %w", path, off, err)
			}
			fh := parseFrameHeader(h[:])
			if !plausible(fh, off, size, prev, upper) {
				badAt = off
				break
			}
			if cap(payload) < fh.n {
				payload = make([]byte, fh.n)
			}
			payload = payload[:fh.n]
			if _, err := io.ReadFull(br, payload); err != nil {
				return res, fmt.Errorf("read segment %s at %d: %w", path, off, err)
			}
			if frameCRC(h[:], payload) != fh.crc {
				badAt = off
				break
			}
			res.add(fh.seq)
			prev = fh.seq
			off += frameHdrSize + int64(fh.n)
		}
		res.size = off
		if badAt < 0 {
			if res.count == 0 {
				res.fix = repairRemove
			}
			return res, nil
		}
	}

	// The slow path: read the rest and look for whole frames after the damage.
	rest := make([]byte, size-badAt)
	if _, err := f.ReadAt(rest, badAt); err != nil && err != io.EOF {
		return res, fmt.Errorf("read segment %s at %d: %w", path, badAt, err)
	}
	if res.count > 0 {
		res.keep = append(res.keep, span{segHdrSize, badAt - segHdrSize})
	}
	pos, goodEnd := int64(0), int64(0) // in rest
	if badAt == 0 {
		pos = segHdrSize // the header is bad; frames cannot begin inside it
	}
	found := false
	for pos+frameHdrSize <= int64(len(rest)) {
		fh := parseFrameHeader(rest[pos:])
		ok := plausible(fh, pos, int64(len(rest)), prev, upper) &&
			(pos == goodEnd || fh.seq-prev <= uint64(pos-goodEnd)+1) &&
			frameCRC(rest[pos:], rest[pos+frameHdrSize:pos+frameHdrSize+int64(fh.n)]) == fh.crc
		if !ok {
			pos++
			continue
		}
		if pos > goodEnd || (badAt == 0 && !found) {
			res.damage = append(res.damage, damage{off: badAt + goodEnd, lo: prev + 1, hi: fh.seq - 1})
		}
		fl := frameHdrSize + int64(fh.n)
		if k := len(res.keep) - 1; k >= 0 && res.keep[k].off+res.keep[k].n == badAt+pos {
			res.keep[k].n += fl
		} else {
			res.keep = append(res.keep, span{badAt + pos, fl})
		}
		res.add(fh.seq)
		prev = fh.seq
		found = true
		pos += fl
		goodEnd = pos
	}
	if goodEnd < int64(len(rest)) || (badAt == 0 && !found) {
		if upper != 0 {
			res.damage = append(res.damage, damage{off: badAt + goodEnd, lo: prev + 1, hi: upper})
		} else {
			res.tornAt = badAt + goodEnd
			res.tornBytes = int64(len(rest)) - goodEnd
		}
	}
	switch {
	case res.count == 0:
		res.fix, res.size = repairRemove, 0
	case found:
		res.fix, res.size = repairRewrite, segHdrSize
		for _, k := range res.keep {
			res.size += k.n
		}
	default:
		res.fix, res.size = repairTruncate, badAt
	}
	return res, nil
}

// plausible reports whether the frame header fh at off, in data of the given
// size, can describe a frame that follows seq prev in a segment whose seqs end
// at upper (0: unknown).
func plausible(fh frameHeader, off, size int64, prev, upper uint64) bool {
	return fh.n > 0 && fh.n <= maxPayload &&
		off+frameHdrSize+int64(fh.n) <= size &&
		fh.seq > prev && (upper == 0 || fh.seq <= upper)
}

// fixSegment applies a scan's repair to the file at path.
func fixSegment(path string, res *scanResult, sync bool) error {
	switch res.fix {
	case repairRemove:
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove segment %s: %w", path, err)
		}
	case repairTruncate:
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open segment %s: %w", path, err)
		}
		err = f.Truncate(res.size)
		if err == nil && sync {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("truncate segment %s: %w", path, err)
		}
	case repairRewrite:
		if err := rewriteSegment(path, res.keep, sync); err != nil {
			return fmt.Errorf("rewrite segment %s: %w", path, err)
		}
	}
	return nil
}

// rewriteSegment replaces the file at path by a new one holding a header and
// the spans keep of the old one.
func rewriteSegment(path string, keep []span, sync bool) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	tmp := path + tmpSuffix
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		src.Close()
		return err
	}
	bw := bufio.NewWriterSize(dst, 256<<10)
	_, err = bw.WriteString(segMagic)
	for _, k := range keep {
		if err != nil {
			break
		}
		_, err = io.Copy(bw, io.NewSectionReader(src, k.off, k.n))
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && sync {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	src.Close() // before the rename: Windows cannot replace an open file
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
