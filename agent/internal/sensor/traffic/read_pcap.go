package traffic

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapReader reads the records of a classic (not gzipped) pcap file as
// pcapgo.Reader does, with the same packets, timestamps, lengths and
// errors, but several times faster: records are read into one large buffer
// and returned as slices of it, so reading a record copies nothing and
// allocates nothing.
type pcapReader struct {
	r          io.Reader
	buf        []byte
	start, end int   // the unread bytes are buf[start:end]
	err        error // the read error that ended the input, io.EOF at its end
	big        bool  // the byte order is big endian
	nano       bool  // timestamps in nanoseconds, not microseconds
	maxCapture uint32
	link       layers.LinkType
}

// pcapBufferSize is the reader's buffer: records up to this size (headers
// included) are returned from it without copying.
const pcapBufferSize = 1 << 20

// pcapReadSize is how much the reader asks of its input at a time.
const pcapReadSize = 128 << 10

// pcapMaxEager is the record length pcapgo accepts whatever the snap length
// of the file says.
const pcapMaxEager = 256 << 10

// newPcapReader reads the global header of a pcap file from the bytes
// head (the first bytes of the file, already read) and r (the rest), with
// a buffer of size bytes (it grows for longer records). Its errors are
// pcapgo.NewReader's.
func newPcapReader(head []byte, r io.Reader, size int) (*pcapReader, error) {
	p := &pcapReader{r: r, buf: make([]byte, max(size, len(head), 64))}
	p.end = copy(p.buf, head)
	p.fill(24)
	// pcapgo judges the header, so that both readers refuse the same
	// files with the same words.
	hdr, err := pcapgo.NewReader(bytes.NewReader(p.buf[p.start:min(p.end, p.start+24)]))
	if err != nil {
		if p.err != nil && !errors.Is(p.err, io.EOF) {
			return nil, p.err
		}
		return nil, err
	}
	switch binary.LittleEndian.Uint32(p.buf[p.start:]) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		p.nano = true
	case 0xd4c3b2a1:
		p.big = true
	case 0x4d3cb2a1:
		p.big, p.nano = true, true
	}
	p.maxCapture = max(hdr.Snaplen(), pcapMaxEager)
	p.link = hdr.LinkType()
	p.start += 24
	return p, nil
}

// LinkType is the link type of the file's records.
func (p *pcapReader) LinkType() layers.LinkType { return p.link }

// fill reads until n bytes are buffered or the input ends, and returns the
// bytes buffered. The buffer grows past pcapBufferSize only with bytes
// actually read, so a short file cannot make it allocate what a damaged
// length asks for.
func (p *pcapReader) fill(n int) int {
	for empty := 0; p.end-p.start < n && p.err == nil; {
		if p.start > 0 {
			p.end = copy(p.buf, p.buf[p.start:p.end])
			p.start = 0
		}
		if p.end == len(p.buf) {
			p.buf = append(p.buf, make([]byte, min(len(p.buf), n-p.end))...)
		}
		// Small reads keep the bytes decoded next in the cache.
		m, err := p.r.Read(p.buf[p.end:min(len(p.buf), p.end+max(pcapReadSize, n))])
		p.end += m
		switch {
		case err != nil:
			p.err = err
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 {
				p.err = io.ErrNoProgress
			}
		}
	}
	return p.end - p.start
}

// u32 is the 32-bit integer of the file's byte order at b.
func (p *pcapReader) u32(b []byte) uint32 {
	if p.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// ZeroCopyReadPacketData returns the next record. The data is valid until
// the next call. At the end of the input it returns io.EOF, for a record
// cut short io.ErrUnexpectedEOF (a record whose header is whole but whose
// data is missing entirely is taken for the end, as pcapgo takes it), and
// an error for a record longer than the file allows.
func (p *pcapReader) ZeroCopyReadPacketData() (data []byte, ci gopacket.CaptureInfo, err error) {
	if n := p.fill(16); n < 16 {
		return nil, ci, p.shortErr(n)
	}
	h := p.buf[p.start : p.start+16]
	sec, frac := p.u32(h[0:4]), p.u32(h[4:8])
	capLen, origLen := p.u32(h[8:12]), p.u32(h[12:16])
	if !p.nano {
		frac *= 1000 // wraps for an invalid count of microseconds, as in pcapgo
	}
	ci.Timestamp = time.Unix(int64(sec), int64(frac)).UTC()
	ci.CaptureLength, ci.Length = int(capLen), int(origLen)
	if capLen > p.maxCapture {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, p.maxCapture)
	}
	if capLen > origLen {
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, origLen)
	}
	need := 16 + int(capLen)
	if n := p.fill(need); n < need {
		p.start += n
		return nil, ci, p.shortErr(n - 16)
	}
	data = p.buf[p.start+16 : p.start+need : p.start+need]
	p.start += need
	return data, ci, nil
}

// shortErr is the error for a read that found n bytes of what it needed:
// io.EOF when there were none, io.ErrUnexpectedEOF otherwise, or the read
// error that stopped the input.
func (p *pcapReader) shortErr(n int) error {
	if p.err != nil && !errors.Is(p.err, io.EOF) {
		return p.err
	}
	if n <= 0 {
		return io.EOF
	}
	return io.ErrUnexpectedEOF
}
