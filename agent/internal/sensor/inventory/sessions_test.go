package inventory

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestTTYKind(t *testing.T) {
	tests := []struct{ line, host, want string }{
		{"tty1", "", "console"},
		{"tty2", ":0", "console"},
		{"ttyS0", "", "console"}, // serial console
		{"hvc0", "", "console"},
		{"console", "", "console"},
		{":0", ":0", "console"},
		{":0.0", "", "console"},
		{":1", ":1", "x11"},
		{"pts/0", "198.51.100.23", "ssh"},
		{"pts/0", "ws-0142.corp.example", "ssh"},
		{"pts/0", "2001:db8::7", "ssh"},
		{"pts/1", ":0", "console"}, // a terminal window on the local display
		{"pts/1", ":2.0", "x11"},
		{"pts/2", "", "terminal"},
		{"", "", ""},
		{"ftpd1234", "198.51.100.23", ""},
	}
	for _, tt := range tests {
		if got := ttyKind(tt.line, tt.host); got != tt.want {
			t.Errorf("ttyKind(%q, %q) = %q, want %q", tt.line, tt.host, got, tt.want)
		}
	}
}

func TestUtmpSession(t *testing.T) {
	tests := []struct {
		e    utmpEntry
		want wire.Session
	}{
		{utmpEntry{typ: 7, user: "bob", line: "pts/1", host: "198.51.100.23", sec: 1767610001, addr: netip.MustParseAddr("198.51.100.23")},
			wire.Session{User: "bob", ID: "pts/1", Kind: "ssh", Remote: "198.51.100.23", Started: 1767610001}},
		// The display is no remote host.
		{utmpEntry{typ: 7, user: "dave", line: ":1", host: ":1", sec: 5},
			wire.Session{User: "dave", ID: ":1", Kind: "x11", Started: 5}},
		// No host name but an address.
		{utmpEntry{typ: 7, user: "erin", line: "pts/5", addr: netip.MustParseAddr("2001:db8::42")},
			wire.Session{User: "erin", ID: "pts/5", Kind: "terminal", Remote: "2001:db8::42"}},
	}
	for _, tt := range tests {
		if got := utmpSession(tt.e); got != tt.want {
			t.Errorf("utmpSession(%+v) = %+v, want %+v", tt.e, got, tt.want)
		}
	}
}

func TestLogindSessions(t *testing.T) {
	tests := []struct {
		id       string
		want     wire.Session
		ok       bool
		warnings []string
	}{
		{"2", wire.Session{User: "alice", ID: "tty2", Kind: "console", Started: 1767600000}, true, nil},
		{"c1", wire.Session{}, false, nil}, // the gdm greeter
		{"14", wire.Session{User: "bob", ID: "pts/1", Kind: "ssh", Remote: "198.51.100.23", Started: 1767610000}, true, nil},
		{"15", wire.Session{User: "alice", ID: "session-15", Kind: "ssh", Remote: "2001:db8::7", Started: 1767611000}, true, nil},
		{"16", wire.Session{}, false, nil}, // cron
		{"17", wire.Session{}, false, nil}, // closing
		{"18", wire.Session{User: "carol", ID: "pts/2", Kind: "ssh", Remote: "203.0.113.9"}, true, []string{
			"/run/systemd/sessions/18:5: not KEY=value",
			`/run/systemd/sessions/18:13: bad REALTIME "soon"`,
		}},
	}
	for _, tt := range tests {
		var w warnings
		s := parseLogindSession(tt.id, readFixture(t, "testdata/accounts/logind/"+tt.id), "/run/systemd/sessions/"+tt.id, w.warn)
		got, ok := s.session()
		if got != tt.want || ok != tt.ok || !slices.Equal(w, tt.warnings) {
			t.Errorf("session %s = %+v, %v, warnings %q; want %+v, %v, warnings %q", tt.id, got, ok, w, tt.want, tt.ok, tt.warnings)
		}
	}
}

func TestLogindSessionKind(t *testing.T) {
	tests := []struct {
		s    logindSession
		want string
	}{
		{logindSession{service: "sshd", tty: "pts/0", remote: true, remoteHost: "h"}, "ssh"},
		{logindSession{service: "sshd-session", remote: true}, "ssh"},
		{logindSession{service: "xrdp-sesman", remote: true, remoteHost: "h"}, "rdp"},
		{logindSession{service: "login", tty: "tty3", seat: "seat0"}, "console"},
		{logindSession{service: "lightdm", display: ":0", seat: "seat0", typ: "x11"}, "console"},
		{logindSession{service: "lightdm", display: ":1", typ: "x11"}, "x11"},
		{logindSession{service: "telnet", remote: true, remoteHost: "h"}, "remote"},
		{logindSession{service: "gdm-password", seat: "seat0", typ: "wayland"}, "console"},
		{logindSession{service: "systemd-user", typ: "unspecified"}, ""},
		{logindSession{typ: "mir"}, "mir"},
	}
	for _, tt := range tests {
		tt.s.user = "u"
		got, _ := tt.s.session()
		if got.Kind != tt.want {
			t.Errorf("%+v.session().Kind = %q, want %q", tt.s, got.Kind, tt.want)
		}
	}
}

func TestLogindUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"198.51.100.23", "198.51.100.23"},
		{`host\x20name`, "host name"},
		{`a\\b`, `a\b`},
		{`bad\q`, `bad\q`},
	}
	for _, tt := range tests {
		if got := logindUnescape(tt.in); got != tt.want {
			t.Errorf("logindUnescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMergeSessions(t *testing.T) {
	utmp := []wire.Session{
		{User: "alice", ID: "tty2", Kind: "console", Started: 100},
		{User: "bob", ID: "pts/1", Kind: "terminal"},
	}
	logind := []wire.Session{
		{User: "alice", ID: "tty2", Kind: "console", Started: 99},
		{User: "bob", ID: "pts/1", Kind: "ssh", Remote: "198.51.100.23", Started: 200},
		{User: "alice", ID: "session-15", Kind: "ssh", Remote: "2001:db8::7", Started: 300},
		{User: "carol", ID: "tty2", Kind: "console"}, // another user on the same tty is another session
	}
	got := mergeSessions(utmp, logind)
	want := []wire.Session{
		{User: "alice", ID: "tty2", Kind: "console", Started: 100},
		{User: "bob", ID: "pts/1", Kind: "ssh", Remote: "198.51.100.23", Started: 200},
		{User: "alice", ID: "session-15", Kind: "ssh", Remote: "2001:db8::7", Started: 300},
		{User: "carol", ID: "tty2", Kind: "console"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeSessions =\n%+v\nwant\n%+v", got, want)
	}
	if utmp[1].Kind != "terminal" {
		t.Errorf("mergeSessions changed its input: %+v", utmp[1])
	}
}

// wtsInfoBytes lays out a WTSINFOW as WTSQuerySessionInformationW returns it
// for WTSSessionInfo (built from the documented declaration; not recorded).
func wtsInfoBytes(state, id uint32, station, domain, user string, logon time.Time) []byte {
	b := make([]byte, 0, 216)
	b = binary.LittleEndian.AppendUint32(b, state)
	b = binary.LittleEndian.AppendUint32(b, id)
	for range 6 { // byte and frame counters
		b = binary.LittleEndian.AppendUint32(b, 4711)
	}
	wchars := func(s string, n int) {
		u := utf16.Encode([]rune(s))
		for i := range n {
			var c uint16
			if i < len(u) {
				c = u[i]
			}
			b = binary.LittleEndian.AppendUint16(b, c)
		}
	}
	wchars(station, 32)       // WINSTATIONNAME_LENGTH
	wchars(domain, 17)        // DOMAIN_LENGTH
	wchars(user, 21)          // USERNAME_LENGTH + 1
	b = append(b, 0, 0, 0, 0) // LARGE_INTEGER alignment: 172 → 176
	filetime := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return (t.Unix() + 11644473600) * 10_000_000
	}
	connect := logon.Add(3 * time.Second)
	for _, ft := range []time.Time{connect, {}, connect.Add(time.Hour), logon, logon.Add(2 * time.Hour)} {
		b = binary.LittleEndian.AppendUint64(b, uint64(filetime(ft)))
	}
	return b
}

func TestParseWTSInfo(t *testing.T) {
	logon := time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)
	b := wtsInfoBytes(0, 2, "RDP-Tcp#7", "CORP", "alice", logon)
	if len(b) != wtsInfoSize {
		t.Fatalf("built %d bytes, wtsInfoSize is %d", len(b), wtsInfoSize)
	}
	got, err := parseWTSInfo(b)
	want := wtsInfo{state: 0, sessionID: 2, station: "RDP-Tcp#7", domain: "CORP", user: "alice", logon: logon.Unix()}
	if err != nil || got != want {
		t.Errorf("parseWTSInfo = %+v, %v; want %+v", got, err, want)
	}
	// A user name of the full 20 characters, and no logon time.
	b = wtsInfoBytes(4, 3, "", "WS-0142", "administrator-backup", time.Time{})
	got, err = parseWTSInfo(b)
	want = wtsInfo{state: 4, sessionID: 3, domain: "WS-0142", user: "administrator-backup"}
	if err != nil || got != want {
		t.Errorf("parseWTSInfo = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseWTSInfo(b[:200]); err == nil {
		t.Errorf("parseWTSInfo(200 bytes) succeeded, want an error")
	}
}

func TestWTSSession(t *testing.T) {
	tests := []struct {
		id                   uint32
		user, domain, client string
		protocol             uint16
		want                 wire.Session
		ok                   bool
	}{
		{0, "SYSTEM", "NT AUTHORITY", "", 0, wire.Session{}, false}, // services
		{65536, "", "", "", 2, wire.Session{}, false},               // the RDP listener
		{1, "", "", "", 0, wire.Session{}, false},                   // the login screen
		{1, "alice", "CORP", "", 0, wire.Session{User: `CORP\alice`, ID: "1", Kind: "console", Started: 7}, true},
		{2, "bob", "WS-0142", "LAPTOP-BOB", 2, wire.Session{User: `WS-0142\bob`, ID: "2", Kind: "rdp", Remote: "LAPTOP-BOB", Started: 7}, true},
		{3, "carol", "", "", 2, wire.Session{User: "carol", ID: "3", Kind: "rdp", Started: 7}, true},
		{4, "dave", "CORP", "THINCLIENT7", 1, wire.Session{User: `CORP\dave`, ID: "4", Kind: "rdp", Remote: "THINCLIENT7", Started: 7}, true},
	}
	for _, tt := range tests {
		got, ok := wtsSession(tt.id, tt.user, tt.domain, tt.client, tt.protocol, 7)
		if got != tt.want || ok != tt.ok {
			t.Errorf("wtsSession(%d, %q, %q, %q, %d) = %+v, %v; want %+v, %v", tt.id, tt.user, tt.domain, tt.client, tt.protocol, got, ok, tt.want, tt.ok)
		}
	}
	if p := wtsProtocol([]byte{2, 0}); p != wtsProtocolRDP {
		t.Errorf("wtsProtocol(02 00) = %d, want 2", p)
	}
	if p := wtsProtocol(nil); p != 0 {
		t.Errorf("wtsProtocol(nil) = %d, want 0", p)
	}
	if s := winUTF16([]byte{'a', 0, 'l', 0, 'i', 0, 0, 0, 'x', 0}); s != "ali" {
		t.Errorf("winUTF16 = %q, want ali", s)
	}
}
