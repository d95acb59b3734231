// Package fsprobe reads filesystem facts (type, volume label, UUID and
// encryption) straight from the bytes of a medium or image: boot sectors,
// superblocks and volume descriptors. It owns only the parsing; finding
// devices, opening them and judging the result live elsewhere in the media
// sensor. Everything goes through an io.ReaderAt, so it runs on every OS.
package fsprobe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Facts is what the media itself says about its filesystem.
type Facts struct {
	FSType     string   // vfat, exfat, ntfs, ext2, ext3, ext4, iso9660, udf, crypto_LUKS, bitlocker; "" when unknown
	Label      string   // volume label, "" when none
	UUID       string   // where the format has one
	Encrypted  string   // "yes", "no" or "unknown"
	Encryption string   // luks1, luks2, bitlocker
	Problems   []string // what could not be read and why
}

const (
	maxRead   = 1 << 20 // largest single read
	maxBudget = 4 << 20 // most bytes read in one Probe
	maxDirLen = 64 << 10
)

// Probe reads the filesystem facts from r, which holds size bytes. It never
// reads at or past size, reads at most a few MiB, and never panics: what it
// cannot read is reported in Facts.Problems.
func Probe(r io.ReaderAt, size int64) (f Facts) {
	p := &prober{r: r, size: size}
	defer func() {
		if v := recover(); v != nil {
			f = Facts{FSType: "", Encrypted: "unknown"}
			p.problemf("probe aborted: %v", v)
		}
		f.Problems = append(f.Problems, p.problems...)
		if f.Encrypted == "" {
			f.Encrypted = "unknown"
		}
	}()
	if size <= 0 {
		p.problemf("empty input (%d bytes)", size)
		return Facts{}
	}
	for _, probe := range []func(*prober) (Facts, bool){
		probeLUKS, probeBitLocker, probeNTFS, probeExFAT, probeFAT, probeExt, probeUDF, probeISO,
	} {
		if f, ok := probe(p); ok {
			return f
		}
	}
	p.problemf("no known filesystem signature in %d bytes", size)
	return Facts{Encrypted: "unknown"}
}

type prober struct {
	r        io.ReaderAt
	size     int64
	used     int64
	problems []string
}

func (p *prober) problemf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, q := range p.problems {
		if q == s {
			return
		}
	}
	p.problems = append(p.problems, s)
}

// read returns up to n bytes at off, fewer when the input ends or a read
// fails (a failure other than the end of input is noted as a problem).
func (p *prober) read(off, n int64) []byte {
	if off < 0 || n <= 0 || off >= p.size {
		return nil
	}
	if n > p.size-off {
		n = p.size - off
	}
	if n > maxRead {
		n = maxRead
	}
	if p.used+n > maxBudget {
		p.problemf("read budget of %d bytes exhausted", maxBudget)
		return nil
	}
	p.used += n
	buf := make([]byte, n)
	k, err := p.r.ReadAt(buf, off)
	if k < 0 || k > len(buf) {
		k = 0
	}
	if err != nil && !(errors.Is(err, io.EOF) && k == len(buf)) {
		if errors.Is(err, io.EOF) {
			p.problemf("input ends at %d bytes, before the declared size %d", off+int64(k), p.size)
		} else {
			p.problemf("read %d bytes at offset %d: %v", n, off, err)
		}
	}
	return buf[:k]
}

// need reads n bytes at off and notes a problem naming what when they are
// not all there.
func (p *prober) need(off, n int64, what string) ([]byte, bool) {
	b := p.read(off, n)
	if int64(len(b)) < n {
		p.problemf("%s truncated at %d bytes", what, off+int64(len(b)))
		return b, false
	}
	return b, true
}

// checkSize notes when the filesystem says it is larger than the input.
func (p *prober) checkSize(declared int64, what string) {
	if declared > p.size {
		p.problemf("%s declares %d bytes, input holds %d", what, declared, p.size)
	}
}

func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// latin1 turns single-byte text into a string, trimming NULs and spaces.
func latin1(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return strings.TrimRight(string(r), " ")
}

func utf16String(b []byte, bigEndian bool) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		var c uint16
		if bigEndian {
			c = binary.BigEndian.Uint16(b[i:])
		} else {
			c = binary.LittleEndian.Uint16(b[i:])
		}
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.TrimRight(string(utf16.Decode(u)), " ")
}

func isPow2(v int64) bool { return v > 0 && v&(v-1) == 0 }
