package inventory

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
)

// utmpRec is a utmp record to write into a test file.
type utmpRec struct {
	typ              int16
	pid              int32
	line, user, host string
	sec              int64
	addr             netip.Addr
}

// The C structures of glibc's bits/utmp.h written out field by field
// (encoding/binary adds no padding, so the padding is spelled out): the one of
// x86_64 and the other __WORDSIZE_TIME64_COMPAT32 targets, 384 bytes, and the
// one of aarch64, 400 bytes. They are laid out here independently of the
// parser's offsets.
type utmpC32 struct {
	Type    int16
	_       [2]byte
	PID     int32
	Line    [32]byte
	ID      [4]byte
	User    [32]byte
	Host    [256]byte
	Exit    [2]int16
	Session int32
	TvSec   uint32
	TvUsec  int32
	Addr    [16]byte
	_       [20]byte
}

type utmpC64 struct {
	Type    int16
	_       [2]byte
	PID     int32
	Line    [32]byte
	ID      [4]byte
	User    [32]byte
	Host    [256]byte
	Exit    [2]int16
	Session int64
	TvSec   int64
	TvUsec  int64
	Addr    [16]byte
	_       [20]byte
	_       [4]byte // struct padding to 8
}

// utmpBytes writes recs as a utmp file of glibc on x86_64 (time64 false) or
// aarch64 (time64 true).
func utmpBytes(t *testing.T, time64 bool, recs []utmpRec) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range recs {
		var addr [16]byte
		if r.addr.Is4() {
			a4 := r.addr.As4()
			copy(addr[:], a4[:])
		} else if r.addr.IsValid() {
			addr = r.addr.As16()
		}
		var line, id, user [32]byte
		var host [256]byte
		copy(line[:], r.line)
		copy(user[:], r.user)
		copy(host[:], r.host)
		copy(id[:4], r.line[max(0, len(r.line)-4):])
		var rec any
		if time64 {
			rec = utmpC64{Type: r.typ, PID: r.pid, Line: line, ID: [4]byte(id[:4]), User: user, Host: host,
				Session: int64(r.pid), TvSec: r.sec, TvUsec: 123456, Addr: addr}
		} else {
			rec = utmpC32{Type: r.typ, PID: r.pid, Line: line, ID: [4]byte(id[:4]), User: user, Host: host,
				Session: r.pid, TvSec: uint32(r.sec), TvUsec: 123456, Addr: addr}
		}
		if err := binary.Write(&buf, binary.LittleEndian, rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// utmpRecords are what a busy workstation's utmp holds.
var utmpRecords = []utmpRec{
	{typ: 2, line: "~", user: "reboot", host: "6.12.48+deb13-amd64", sec: 1767590000},      // BOOT_TIME
	{typ: 1, pid: 53, line: "~", user: "runlevel", host: "6.12.48+deb13", sec: 1767590010}, // RUN_LVL
	{typ: 6, pid: 900, line: "tty1", user: "LOGIN", sec: 1767590020},                       // LOGIN_PROCESS
	{typ: 7, pid: 1873, line: "tty2", user: "alice", sec: 1767600001},
	{typ: 7, pid: 2210, line: "pts/1", user: "bob", host: "198.51.100.23", sec: 1767610001, addr: netip.MustParseAddr("198.51.100.23")},
	{typ: 7, pid: 3000, line: "pts/2", user: "carol", host: "203.0.113.9", sec: 1767620000, addr: netip.MustParseAddr("203.0.113.9")},
	{typ: 7, pid: 4000, line: ":1", user: "dave", host: ":1", sec: 1767630000},
	{typ: 7, pid: 4100, line: "pts/3", user: "root", sec: 1767640000},
	{typ: 8, pid: 4150, line: "pts/4", sec: 1767645000}, // DEAD_PROCESS
	{typ: 7, pid: 4200, line: "pts/5", user: "a-user-name-of-thirty-two-bytes!", sec: 1767650000, addr: netip.MustParseAddr("2001:db8::42")},
}

func TestParseUtmp(t *testing.T) {
	for _, time64 := range []bool{false, true} {
		b := utmpBytes(t, time64, utmpRecords)
		l := utmpTime32
		if time64 {
			l = utmpTime64
		}
		if len(b) != len(utmpRecords)*l.size {
			t.Fatalf("time64 %v: wrote %d bytes, want %d records of %d", time64, len(b), len(utmpRecords), l.size)
		}
		got, trailing := parseUtmp(append(b, 0, 0, 0, 7), l)
		if trailing != 4 {
			t.Errorf("time64 %v: trailing = %d, want 4", time64, trailing)
		}
		var want []utmpEntry
		for _, r := range utmpRecords {
			want = append(want, utmpEntry{typ: r.typ, pid: r.pid, line: r.line, user: r.user, host: r.host, sec: r.sec, addr: r.addr})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("time64 %v: parseUtmp =\n%+v\nwant\n%+v", time64, got, want)
		}
	}
}

func TestUtmpLayoutFor(t *testing.T) {
	tests := []struct {
		goarch string
		size   int
		want   utmpLayout
	}{
		{"amd64", 3 * 384, utmpTime32},
		{"arm64", 3 * 400, utmpTime64},
		{"riscv64", 0, utmpTime32},
		{"arm64", 0, utmpTime64},
		{"amd64", 2 * 400, utmpTime64},     // a file from an aarch64 machine
		{"arm64", 2 * 384, utmpTime32},     // and the other way round
		{"amd64", 50 * 384, utmpTime32},    // 19200 bytes fit both: the architecture decides
		{"arm64", 48 * 400, utmpTime64},    //
		{"amd64", 3*384 + 100, utmpTime32}, // neither: the architecture, and a warning about trailing bytes
	}
	for _, tt := range tests {
		if got := utmpLayoutFor(tt.goarch, tt.size); got != tt.want {
			t.Errorf("utmpLayoutFor(%s, %d) = %+v, want %+v", tt.goarch, tt.size, got, tt.want)
		}
	}
}
