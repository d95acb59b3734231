package inventory

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
)

// utmp(5) as glibc writes it: an array of fixed-size little-endian records
// (the agent's Linux targets are all little-endian). The parser reads the
// bytes itself rather than casting to a Go struct, so that it runs, and is
// tested, the same on every OS and architecture.
//
//	offset  field
//	     0  ut_type    int16 (+2 padding)
//	     4  ut_pid     int32
//	     8  ut_line    char[32]
//	    40  ut_id      char[4]
//	    44  ut_user    char[32]
//	    76  ut_host    char[256]
//	   332  ut_exit    2×int16
//	   336  ut_session, ut_tv, ut_addr_v6, reserved: see utmpLayout

// Record types (ut_type) this package looks at.
const utmpUserProcess = 7 // USER_PROCESS: a logged-in user

const (
	utmpPIDOff  = 4
	utmpLineOff = 8
	utmpLineLen = 32
	utmpUserOff = 44
	utmpUserLen = 32
	utmpHostOff = 76
	utmpHostLen = 256
)

// utmpLayout is where the tail of the record lies, which depends on the
// architecture: glibc keeps ut_session and ut_tv 32-bit where
// __WORDSIZE_TIME64_COMPAT32 is set (x86_64, i386, riscv64, ppc64, s390x,
// 32-bit arm) and makes them long and struct timeval on aarch64.
type utmpLayout struct {
	size    int // record size
	tvOff   int // ut_tv.tv_sec
	tvSize  int // 4 (uint32) or 8 (int64)
	addrOff int // ut_addr_v6
}

var (
	utmpTime32 = utmpLayout{size: 384, tvOff: 340, tvSize: 4, addrOff: 348}
	utmpTime64 = utmpLayout{size: 400, tvOff: 344, tvSize: 8, addrOff: 360}
)

// utmpLayoutFor returns the layout of a utmp file of size bytes written on
// goarch. When the file's size cannot be a whole number of the expected
// records but is one of the other kind, the file wins.
func utmpLayoutFor(goarch string, size int) utmpLayout {
	l, other := utmpTime32, utmpTime64
	if goarch == "arm64" {
		l, other = other, l
	}
	if size%l.size != 0 && size%other.size == 0 {
		return other
	}
	return l
}

// utmpEntry is one utmp record.
type utmpEntry struct {
	typ              int16
	pid              int32
	line, user, host string
	sec              int64 // ut_tv.tv_sec
	addr             netip.Addr
}

// parseUtmp reads the records of a utmp file laid out as l. It returns how
// many bytes trailed the last whole record (a file being written, or the
// wrong layout).
func parseUtmp(b []byte, l utmpLayout) (entries []utmpEntry, trailing int) {
	le := binary.LittleEndian
	for ; len(b) >= l.size; b = b[l.size:] {
		r := b[:l.size]
		e := utmpEntry{
			typ:  int16(le.Uint16(r)),
			pid:  int32(le.Uint32(r[utmpPIDOff:])),
			line: utmpString(r[utmpLineOff : utmpLineOff+utmpLineLen]),
			user: utmpString(r[utmpUserOff : utmpUserOff+utmpUserLen]),
			host: utmpString(r[utmpHostOff : utmpHostOff+utmpHostLen]),
		}
		if l.tvSize == 8 {
			e.sec = int64(le.Uint64(r[l.tvOff:]))
		} else {
			e.sec = int64(le.Uint32(r[l.tvOff:]))
		}
		// ut_addr_v6 holds the address in network order: an IPv4 address in
		// its first four bytes, the rest zero.
		a := r[l.addrOff : l.addrOff+16]
		switch {
		case bytes.Count(a, []byte{0}) == 16:
		case bytes.Count(a[4:], []byte{0}) == 12:
			e.addr = netip.AddrFrom4([4]byte(a[:4]))
		default:
			e.addr = netip.AddrFrom16([16]byte(a))
		}
		entries = append(entries, e)
	}
	return entries, len(b)
}

// utmpString returns a char array's text: up to the first NUL, or all of it
// (the fields need not be NUL-terminated).
func utmpString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}
