package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// sessionRoot builds a machine root with a utmp of utmpRecords (laid out for
// aarch64 when time64), the processes of pids running, and the logind
// session fixtures next to a FIFO like logind's ID.ref, which a reader that
// opened it would hang on.
func sessionRoot(t *testing.T, time64 bool, pids ...int32) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"run/systemd/sessions", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "run/utmp"), utmpBytes(t, time64, utmpRecords), 0o664); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := os.Mkdir(filepath.Join(root, "proc", strconv.Itoa(int(pid))), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir("testdata/accounts/logind")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.WriteFile(filepath.Join(root, "run/systemd/sessions", e.Name()), readFixture(t, "testdata/accounts/logind/"+e.Name()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "run/systemd/sessions/2.ref"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLinuxSessions(t *testing.T) {
	// carol's process (3000) is gone: her utmp record is stale, but logind
	// still holds her session.
	alive := []int32{900, 1873, 2210, 4000, 4100, 4200}
	want := []wire.Session{
		{User: "a-user-name-of-thirty-two-bytes!", ID: "pts/5", Kind: "terminal", Remote: "2001:db8::42", Started: 1767650000},
		{User: "alice", ID: "session-15", Kind: "ssh", Remote: "2001:db8::7", Started: 1767611000},
		{User: "alice", ID: "tty2", Kind: "console", Started: 1767600001},
		{User: "bob", ID: "pts/1", Kind: "ssh", Remote: "198.51.100.23", Started: 1767610001},
		{User: "carol", ID: "pts/2", Kind: "ssh", Remote: "203.0.113.9"},
		{User: "dave", ID: ":1", Kind: "x11", Started: 1767630000},
		{User: "root", ID: "pts/3", Kind: "terminal", Started: 1767640000},
	}
	wantWarn := []string{
		"/run/systemd/sessions/18:5: not KEY=value",
		`/run/systemd/sessions/18:13: bad REALTIME "soon"`,
	}
	for _, tt := range []struct {
		goarch string
		time64 bool
	}{{"amd64", false}, {"arm64", true}, {"riscv64", false}} {
		var w warnings
		got, err := linuxSessions(sessionRoot(t, tt.time64, alive...), tt.goarch, w.warn)
		inv := wire.Inventory{Sessions: got}
		inv.Normalize()
		if err != nil || !reflect.DeepEqual(inv.Sessions, want) || !slices.Equal(w, wantWarn) {
			t.Errorf("%s: linuxSessions = %v\n%+v\nwarnings %q\nwant\n%+v\nwarnings %q", tt.goarch, err, inv.Sessions, w, want, wantWarn)
		}
	}
}

func TestLinuxSessionsNone(t *testing.T) {
	var w warnings
	got, err := linuxSessions(t.TempDir(), "amd64", w.warn)
	if err != nil || got != nil || len(w) > 0 {
		t.Errorf("linuxSessions(empty root) = %+v, %v, warnings %q; want nothing", got, err, w)
	}
	// A utmp cut short while written: the whole records arrive, the rest is
	// reported.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := utmpBytes(t, false, utmpRecords[3:5])
	if err := os.WriteFile(filepath.Join(root, "var/run/utmp"), b[:len(b)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "proc/1873"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err = linuxSessions(root, "amd64", w.warn)
	wantWarn := []string{"/var/run/utmp: 284 bytes after the last whole 384-byte record"}
	if err != nil || len(got) != 1 || got[0].User != "alice" || !slices.Equal(w, wantWarn) {
		t.Errorf("linuxSessions(short utmp) = %+v, %v, warnings %q; want alice, warnings %q", got, err, w, wantWarn)
	}
}

// TestSessionsThisMachine lists who is logged on to the machine the tests
// run on.
func TestSessionsThisMachine(t *testing.T) {
	var inv wire.Inventory
	var w warnings
	if err := fillSessions(t.Context(), &inv, w.warn); err != nil {
		t.Fatalf("fillSessions: %v", err)
	}
	if len(w) > 0 {
		t.Errorf("warnings: %q", w)
	}
	for _, s := range inv.Sessions {
		if s.User == "" || s.ID == "" {
			t.Errorf("session without user or id: %+v", s)
		}
	}
	t.Logf("%d sessions: %+v", len(inv.Sessions), inv.Sessions)
}
