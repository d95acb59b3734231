package inventory

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fakeSystemctl answers systemctl's two listings from the fixtures, or fails
// the listing named by fail with err.
func fakeSystemctl(t *testing.T, fail string, err error) func(context.Context, ...string) ([]byte, error) {
	return func(_ context.Context, args ...string) ([]byte, error) {
		if args[0] == fail {
			return nil, err
		}
		switch strings.Join(args, " ") {
		case "list-units --type=service --all --no-legend --no-pager --plain":
			return readFixture(t, "testdata/accounts/systemctl/list-units.txt"), nil
		case "list-unit-files --type=service --no-legend --no-pager":
			return readFixture(t, "testdata/accounts/systemctl/list-unit-files.txt"), nil
		}
		t.Errorf("unexpected systemctl %q", args)
		return nil, errors.New("unexpected")
	}
}

func TestLinuxServices(t *testing.T) {
	booted := t.TempDir()
	if err := os.MkdirAll(filepath.Join(booted, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	errBus := errors.New("exit status 1: Failed to connect to bus: Host is down")
	tests := []struct {
		name      string
		root      string
		run       func(context.Context, ...string) ([]byte, error)
		count     int
		startMode string // of dbus.service
		wantErr   bool
		wantWarn  []string
	}{
		{"systemd", booted, fakeSystemctl(t, "", nil), 92, "static", false, nil},
		{"container", t.TempDir(), fakeSystemctl(t, "", nil), 0, "", false, []string{"not booted with systemd: no services collected"}},
		{"no systemctl", booted, fakeSystemctl(t, "list-units", exec.ErrNotFound), 0, "", false, []string{"systemctl not found: no services collected"}},
		{"bus down", booted, fakeSystemctl(t, "list-units", errBus), 0, "", true, nil},
		{"no unit files", booted, fakeSystemctl(t, "list-unit-files", errBus), 23, "", false,
			[]string{"systemctl list-unit-files: " + errBus.Error() + "; start modes unknown"}},
	}
	for _, tt := range tests {
		var w warnings
		got, err := linuxServices(t.Context(), tt.root, tt.run, w.warn)
		if (err != nil) != tt.wantErr || len(got) != tt.count || !slices.Equal(w, tt.wantWarn) {
			t.Errorf("%s: linuxServices = %d services, %v, warnings %q; want %d, error %v, warnings %q",
				tt.name, len(got), err, w, tt.count, tt.wantErr, tt.wantWarn)
		}
		if tt.count > 0 {
			s := byName(got, func(s wire.Service) string { return s.Name })["dbus.service"]
			if s.State != "running" || s.StartMode != tt.startMode {
				t.Errorf("%s: dbus.service = %+v, want running, start mode %q", tt.name, s, tt.startMode)
			}
		}
	}
}

// TestServicesThisMachine lists the services of the machine the tests run
// on: none and one warning when it is not booted with systemd.
func TestServicesThisMachine(t *testing.T) {
	var inv wire.Inventory
	var w warnings
	if err := fillServices(t.Context(), &inv, w.warn); err != nil {
		t.Fatalf("fillServices: %v", err)
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		if len(inv.Services) != 0 || len(w) != 1 {
			t.Errorf("not booted with systemd: %d services, warnings %q; want none and one", len(inv.Services), w)
		}
		return
	}
	if len(inv.Services) == 0 {
		t.Errorf("booted with systemd, no services; warnings %q", w)
	}
}
