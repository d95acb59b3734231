package inventory

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path relative to root → content) below root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const debianHosts = `127.0.0.1	localhost
127.0.1.1	ws-0142.corp.example	ws-0142

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
`

const resolvedStub = `# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).
nameserver 127.0.0.53
options edns0 trust-ad
search lan
`

func TestDomainFrom(t *testing.T) {
	tests := []struct {
		name     string
		hostname string
		files    map[string]string
		want     string
	}{
		{"fqdn hostname", "db1.dc2.example.org", nil, "dc2.example.org"},
		{"fqdn with root dot", "db1.example.org.", nil, "example.org"},
		{"localhost", "localhost", map[string]string{"etc/resolv.conf": "search example.org\n"}, ""},
		{"no files", "ws-0142", nil, ""},
		{"hosts canonical name", "ws-0142", map[string]string{"etc/hosts": debianHosts, "etc/resolv.conf": resolvedStub}, "corp.example"},
		{"hosts match is case blind", "WS-0142", map[string]string{"etc/hosts": debianHosts}, "corp.example"},
		{
			"hosts lists the name without domain",
			"ws-0142",
			map[string]string{"etc/hosts": "127.0.1.1 ws-0142 # no domain\n", "etc/resolv.conf": resolvedStub},
			"",
		},
		{"not in hosts, resolv.conf search", "ws-0142", map[string]string{"etc/hosts": "127.0.0.1 localhost\n", "etc/resolv.conf": resolvedStub}, "lan"},
		{"commented hosts line", "ws-0142", map[string]string{"etc/hosts": "#127.0.1.1 ws-0142.old.example ws-0142\n"}, ""},
		{"resolv.conf domain", "ws-0142", map[string]string{"etc/resolv.conf": "domain corp.example\nnameserver 10.0.0.1\n"}, "corp.example"},
		{"resolv.conf last wins", "ws-0142", map[string]string{"etc/resolv.conf": "domain old.example\nsearch corp.example example\n"}, "corp.example"},
		{"resolv.conf search root", "ws-0142", map[string]string{"etc/resolv.conf": "search .\n"}, ""},
		{"resolv.conf search root then domain", "ws-0142", map[string]string{"etc/resolv.conf": "search . corp.example\n"}, "corp.example"},
	}
	for _, tt := range tests {
		root := t.TempDir()
		writeTree(t, root, tt.files)
		got, err := domainFrom(root, tt.hostname)
		if err != nil || got != tt.want {
			t.Errorf("%s: domainFrom(%q) = %q, %v; want %q, nil", tt.name, tt.hostname, got, err, tt.want)
		}
	}
}

func TestMachineID(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"systemd", map[string]string{"etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n", "var/lib/dbus/machine-id": "0000\n"}, "3d1219c7c4c5404aaa1f6d2a48adfda4"},
		{"dbus only", map[string]string{"var/lib/dbus/machine-id": "5e9b6e0c2a8f4d0c9f1e7a3b2c1d0e9f\n"}, "5e9b6e0c2a8f4d0c9f1e7a3b2c1d0e9f"},
		{"empty, as in a fresh image", map[string]string{"etc/machine-id": "\n"}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		root := t.TempDir()
		writeTree(t, root, tt.files)
		got, err := system{root: root}.MachineID(t.Context(), nil)
		if err != nil || got != tt.want {
			t.Errorf("%s: MachineID() = %q, %v; want %q, nil", tt.name, got, err, tt.want)
		}
	}
}

// TestCollectThisMachine runs the real sources on the machine the test runs on.
func TestCollectThisMachine(t *testing.T) {
	inv, err := Collect(t.Context())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	h := inv.Host
	t.Logf("this machine: %+v", *h)
	want, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if h.Hostname != want {
		t.Errorf("Host.Hostname = %q, want os.Hostname() = %q", h.Hostname, want)
	}
	if h.OS != "linux" || h.Kernel == "" || h.Arch == "" || h.BootTime == 0 {
		t.Errorf("Host OS, Kernel, Arch, BootTime = %q, %q, %q, %d; want linux and the rest set", h.OS, h.Kernel, h.Arch, h.BootTime)
	}
	if h.CPU.Threads < 1 || h.CPU.Cores < 1 || h.CPU.Cores > h.CPU.Threads || h.MemoryBytes == 0 {
		t.Errorf("Host CPU, MemoryBytes = %+v, %d; want counts with 1 <= cores <= threads and memory", h.CPU, h.MemoryBytes)
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && h.MachineID != strings.TrimSpace(string(b)) {
		t.Errorf("Host.MachineID = %q, want /etc/machine-id %q", h.MachineID, strings.TrimSpace(string(b)))
	}

	// When /sys/class/net has a non-loopback interface with a hardware
	// address, at least one such interface is reported with that MAC. (Not
	// all: containers come and go between the two readings.)
	if nics := sysNICs(t); len(nics) > 0 {
		var found bool
		for _, n := range nics {
			for _, ifc := range h.Interfaces {
				found = found || ifc.Name == n.name && ifc.MAC == n.mac
			}
		}
		if !found {
			t.Errorf("none of %v in Host.Interfaces %+v", nics, h.Interfaces)
		}
	}
	for i, ifc := range h.Interfaces {
		if ifc.Name == "lo" {
			t.Errorf("loopback %s reported", ifc.Name)
		}
		if i > 0 && h.Interfaces[i-1].Name >= ifc.Name {
			t.Errorf("interfaces not sorted by name: %q before %q", h.Interfaces[i-1].Name, ifc.Name)
		}
	}

	again, err := Collect(t.Context())
	if err != nil {
		t.Fatalf("Collect again: %v", err)
	}
	if again.Hash != inv.Hash {
		t.Errorf("Collect twice: hash %s then %s\nfirst:  %+v\nsecond: %+v", inv.Hash, again.Hash, *inv.Host, *again.Host)
	}
}

type nic struct{ name, mac string }

// sysNICs lists the interfaces in /sys/class/net that are not loopbacks and
// have a non-zero Ethernet address.
func sysNICs(t *testing.T) []nic {
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skipf("no /sys/class/net: %v", err)
	}
	var out []nic
	for _, e := range ents {
		dir := filepath.Join("/sys/class/net", e.Name())
		if typ, _ := os.ReadFile(filepath.Join(dir, "type")); strings.TrimSpace(string(typ)) == "772" { // ARPHRD_LOOPBACK
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "address"))
		if err != nil {
			continue
		}
		hw, err := net.ParseMAC(strings.TrimSpace(string(b)))
		if err != nil || len(hw) != 6 || strings.Trim(hw.String(), "0:") == "" {
			continue
		}
		out = append(out, nic{e.Name(), hw.String()})
	}
	return out
}
