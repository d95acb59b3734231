package inventory

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSystemdServices(t *testing.T) {
	var w warnings
	units := parseListUnits(readFixture(t, "testdata/accounts/systemctl/list-units.txt"), w.warn)
	files := parseListUnitFiles(readFixture(t, "testdata/accounts/systemctl/list-unit-files.txt"), w.warn)
	if len(w) > 0 {
		t.Errorf("warnings: %q", w)
	}
	if len(units) != 25 || len(files) != 116 {
		t.Errorf("parsed %d units, %d unit files; want 25, 116", len(units), len(files))
	}
	services := systemdServices(units, files)
	got := byName(services, func(s wire.Service) string { return s.Name })
	want := []wire.Service{
		{Name: "avahi-daemon.service", Display: "Avahi mDNS/DNS-SD Stack", State: "running", StartMode: "enabled"},
		{Name: "dbus.service", Display: "D-Bus System Message Bus", State: "running", StartMode: "static"},
		{Name: "fusioninventory-agent.service", Display: "FusionInventory agent", State: "failed", StartMode: "enabled"},
		{Name: "kmod-static-nodes.service", Display: "Create List of Static Device Nodes", State: "exited", StartMode: "static"},
		{Name: "hwclock.service", Display: "hwclock.service", State: "stopped", StartMode: "masked"},
		{Name: "systemd-timesyncd.service", Display: "Network Time Synchronization", State: "starting", StartMode: "enabled"},
		{Name: "systemd-networkd-wait-online.service", Display: "Wait for Network to be Configured", State: "stopping", StartMode: "disabled"},
		// Instances take their template's state.
		{Name: "getty@tty1.service", Display: "Getty on tty1", State: "running", StartMode: "enabled"},
		{Name: "postgresql@15-main.service", Display: "PostgreSQL Cluster 15-main", State: "running", StartMode: "disabled"},
		{Name: "user@1001.service", Display: "User Manager for UID 1001", State: "running", StartMode: "static"},
		// Not found but running: a unit file deleted under a live service.
		{Name: "old-agent.service", Display: "old-agent.service", State: "running"},
		// Unit files not loaded.
		{Name: "systemd-networkd.service", State: "stopped", StartMode: "disabled"},
		{Name: "upower.service", State: "stopped", StartMode: "disabled"},
		{Name: "x11-common.service", State: "stopped", StartMode: "masked"},
	}
	for _, s := range want {
		if g := got[s.Name]; !reflect.DeepEqual(g, s) {
			t.Errorf("service %s = %+v, want %+v", s.Name, g, s)
		}
	}
	for _, name := range []string{"apparmor.service", "console-setup.service", "getty@.service", "autovt@.service", "udev.service", "dbus-org.freedesktop.login1.service"} {
		if s, ok := got[name]; ok {
			t.Errorf("service %s listed (%+v); want templates, aliases and units not found left out", name, s)
		}
	}
	// 23 loaded units that count (25 less 2 not found and dead) + 69 unit
	// files never loaded that are neither templates nor aliases.
	if len(services) != 92 {
		t.Errorf("%d services, want 92", len(services))
	}
}

func TestParseListUnits(t *testing.T) {
	out := "" +
		"● fusioninventory-agent.service loaded failed failed FusionInventory agent\n" +
		"* rsync.service not-found inactive dead rsync.service\n" +
		"cron.service   loaded   active   running   Regular background program processing daemon\n" +
		"\n" +
		"garbage\n" +
		"ssh.service loaded active\n" +
		"nodesc.service loaded active running\n"
	var w warnings
	got := parseListUnits([]byte(out), w.warn)
	want := []systemdUnit{
		{"fusioninventory-agent.service", "loaded", "failed", "failed", "FusionInventory agent"},
		{"rsync.service", "not-found", "inactive", "dead", "rsync.service"},
		{"cron.service", "loaded", "active", "running", "Regular background program processing daemon"},
		{"nodesc.service", "loaded", "active", "running", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseListUnits = %+v, want %+v", got, want)
	}
	wantWarn := []string{
		`systemctl list-units:5: cannot read "garbage"`,
		`systemctl list-units:6: cannot read "ssh.service loaded active"`,
	}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("warnings %q, want %q", w, wantWarn)
	}
}

func TestSystemdState(t *testing.T) {
	tests := []struct{ active, sub, want string }{
		{"active", "running", "running"},
		{"active", "exited", "exited"},
		{"active", "waiting", "waiting"},
		{"reloading", "reload", "running"},
		{"inactive", "dead", "stopped"},
		{"failed", "failed", "failed"},
		{"activating", "auto-restart", "starting"},
		{"deactivating", "stop-sigterm", "stopping"},
		{"maintenance", "cleaning", "maintenance"},
	}
	for _, tt := range tests {
		if got := systemdState(tt.active, tt.sub); got != tt.want {
			t.Errorf("systemdState(%q, %q) = %q, want %q", tt.active, tt.sub, got, tt.want)
		}
	}
}

func TestWindowsService(t *testing.T) {
	tests := []struct {
		name, display string
		state, start  uint32
		delayed       bool
		account       string
		wantState     string
		wantStartMode string
	}{
		{"wuauserv", "Windows Update", winServiceStopped, winServiceDemandStart, false, "LocalSystem", "stopped", "manual"},
		{"BITS", "Background Intelligent Transfer Service", winServiceRunning, winServiceAutoStart, true, "LocalSystem", "running", "auto-delayed"},
		{"Dnscache", "DNS Client", winServiceRunning, winServiceAutoStart, false, `NT AUTHORITY\NetworkService`, "running", "auto"},
		{"RemoteRegistry", "Remote Registry", winServiceStopped, winServiceDisabled, false, `NT AUTHORITY\LocalService`, "stopped", "disabled"},
		{"Spooler", "Print Spooler", winServiceStartPending, winServiceAutoStart, false, "LocalSystem", "starting", "auto"},
		{"sonevakt", "Sonevakt agent", winServiceStopPending, winServiceAutoStart, false, "LocalSystem", "stopping", "auto"},
		{"x", "", winServicePaused, winServiceBootStart, false, "", "paused", "boot"},
		{"y", "", winServicePausePending, winServiceSystemStart, false, "", "pausing", "system"},
		{"z", "", winServiceContinuePending, 9, false, "", "continuing", ""},
		{"q", "", 0, winServiceDemandStart, false, "", "unknown", "manual"},
	}
	for _, tt := range tests {
		got := windowsService(tt.name, tt.display, tt.state, tt.start, tt.delayed, tt.account)
		want := wire.Service{Name: tt.name, Display: tt.display, State: tt.wantState, StartMode: tt.wantStartMode, Account: tt.account}
		if got != want {
			t.Errorf("windowsService(%q, %d, %d, %v) = %+v, want %+v", tt.name, tt.state, tt.start, tt.delayed, got, want)
		}
	}
}
