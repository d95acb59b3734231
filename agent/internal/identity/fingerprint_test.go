package identity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// nicFixture is one entry of a fixture's sys/class/net.
type nicFixture struct {
	name, address string
	assignType    string // addr_assign_type; "" leaves the file out
	bus           string // subsystem of the device; "" for a virtual NIC
}

// machine is the fixture of a Linux machine; tree writes it below a new root.
type machine struct {
	files map[string]string // path below root → content
	nics  []nicFixture
}

// laptop is a Linux laptop as root sees it: a machine id, DMI identifiers, a
// wired and a wireless NIC on PCI, a loopback and a container bridge.
func laptop() machine {
	return machine{
		files: map[string]string{
			"etc/machine-id":                   "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
			"sys/class/dmi/id/product_uuid":    "4c4c4544-0042-3510-8051-b7c04f4e3332\n",
			"sys/class/dmi/id/product_serial":  "B5Q3Z92\n",
			"sys/class/dmi/id/board_serial":    "/B5Q3Z92/CNFCW0025U00BY/\n",
			"sys/class/dmi/id/product_name":    "Latitude 7440\n",
			"sys/class/dmi/id/sys_vendor":      "Dell Inc.\n",
			"sys/class/dmi/id/chassis_serial":  "B5Q3Z92\n",
			"sys/class/dmi/id/bios_version":    "1.12.1\n",
			"var/lib/dbus/machine-id":          "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
			"proc/sys/kernel/random/boot_id":   "8c1d6c4e-1f3a-4c55-9a43-6f0e2b3d9b10\n",
			"sys/class/dmi/id/board_name":      "0K3JVC\n",
			"sys/class/dmi/id/product_version": "\n",
		},
		nics: []nicFixture{
			{"enp0s31f6", "c8:5a:cf:00:11:22", "0", "pci"},
			{"wlp0s20f3", "f4:26:79:1a:2b:3c", "0", "pci"},
			{"lo", "00:00:00:00:00:00", "0", ""},
			{"docker0", "02:42:ac:11:00:01", "3", ""},
		},
	}
}

func (m machine) tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range m.files {
		p = filepath.Join(root, p)
		mustMkdir(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range m.nics {
		dir := filepath.Join(root, "sys/class/net", n.name)
		mustMkdir(t, dir)
		write := func(name, content string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		write("address", n.address)
		if n.assignType != "" {
			write("addr_assign_type", n.assignType)
		}
		if n.bus != "" {
			dev := filepath.Join(root, "sys/devices", n.bus+"0000:00", string(rune('a'+i)))
			mustMkdir(t, dev)
			mustMkdir(t, filepath.Join(root, "sys/bus", n.bus))
			mustSymlink(t, filepath.Join(root, "sys/bus", n.bus), filepath.Join(dev, "subsystem"))
			mustSymlink(t, dev, filepath.Join(dir, "device"))
		}
	}
	return root
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks not available: %v", err)
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestFingerprintSameInputs(t *testing.T) {
	a, err := fingerprintFrom(laptop().tree(t))
	if err != nil {
		t.Fatalf("fingerprintFrom: %v", err)
	}
	if !hex64.MatchString(a) {
		t.Errorf("fingerprintFrom = %q, want 64 hex digits", a)
	}
	root := laptop().tree(t)
	for range 2 {
		if b, err := fingerprintFrom(root); err != nil || b != a {
			t.Errorf("fingerprintFrom(same machine, other root) = %q, %v; want %q, nil", b, err, a)
		}
	}
}

func TestFingerprintChanges(t *testing.T) {
	base, err := fingerprintFrom(laptop().tree(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		change  func(m *machine)
		changed bool
	}{
		{"product serial", func(m *machine) { m.files["sys/class/dmi/id/product_serial"] = "B5Q3Z93\n" }, true},
		{"board serial", func(m *machine) { m.files["sys/class/dmi/id/board_serial"] = "/B5Q3Z92/CNFCW0025U00BZ/\n" }, true},
		{"product uuid", func(m *machine) { m.files["sys/class/dmi/id/product_uuid"] = "4c4c4544-0042-3510-8051-b7c04f4e3333\n" }, true},
		{"machine id, OS reinstalled", func(m *machine) {
			m.files["etc/machine-id"] = "9f0c2b1a7e6d4c3b8a5f4e3d2c1b0a99\n"
		}, true},
		{"NIC replaced", func(m *machine) { m.nics[0].address = "c8:5a:cf:00:11:23" }, true},
		{"NIC removed", func(m *machine) { m.nics = m.nics[1:] }, true},
		{"DMI unreadable, as without root", func(m *machine) {
			delete(m.files, "sys/class/dmi/id/product_uuid")
			delete(m.files, "sys/class/dmi/id/product_serial")
			delete(m.files, "sys/class/dmi/id/board_serial")
		}, true},
		{"uuid upper case", func(m *machine) { m.files["sys/class/dmi/id/product_uuid"] = "4C4C4544-0042-3510-8051-B7C04F4E3332\n" }, false},
		{"other DMI fields", func(m *machine) { m.files["sys/class/dmi/id/bios_version"] = "1.13.0\n" }, false},
		{"boot id", func(m *machine) { m.files["proc/sys/kernel/random/boot_id"] = "0b7e2f55-7b8e-4c83-a0a5-1b7e1d0f9c42\n" }, false},
		{"dbus machine id ignored beside etc", func(m *machine) { m.files["var/lib/dbus/machine-id"] = "0\n" }, false},
		{"NIC order", func(m *machine) { m.nics[0], m.nics[1] = m.nics[1], m.nics[0] }, false},
		{"USB dock plugged in", func(m *machine) {
			m.nics = append(m.nics, nicFixture{"enx00e04c680001", "00:e0:4c:68:00:01", "0", "usb"})
		}, false},
		{"container started", func(m *machine) {
			m.nics = append(m.nics, nicFixture{"veth3f2a1b0", "ae:51:3c:9d:0e:7f", "3", ""})
		}, false},
		{"wireless MAC randomised", func(m *machine) {
			m.nics[1] = nicFixture{"wlp0s20f3", "2e:8c:31:40:5a:6b", "3", "pci"}
		}, true}, // without ethtool the permanent address is unknown; see TestPermAddr
		{"NIC without addr_assign_type, old kernel", func(m *machine) { m.nics[0].assignType = "" }, false},
	}
	for _, tt := range tests {
		m := laptop()
		tt.change(&m)
		fp, err := fingerprintFrom(m.tree(t))
		if err != nil {
			t.Errorf("%s: fingerprintFrom: %v", tt.name, err)
			continue
		}
		if changed := fp != base; changed != tt.changed {
			t.Errorf("%s: fingerprint changed = %v, want %v", tt.name, changed, tt.changed)
		}
	}
}

func TestFingerprintMissingParts(t *testing.T) {
	tests := []struct {
		name string
		m    machine
		err  error
	}{
		{"machine id only", machine{files: map[string]string{"etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n"}}, nil},
		{"dbus machine id only", machine{files: map[string]string{"var/lib/dbus/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n"}}, nil},
		{"one NIC only", machine{nics: []nicFixture{{"eth0", "52:54:00:12:34:56", "0", "virtio"}}}, nil},
		{"DMI only", machine{files: map[string]string{"sys/class/dmi/id/product_uuid": "ec2a8e7d-5c1b-4b1e-9d8c-2f0e1a3b4c5d\n"}}, nil},
		{"nothing", machine{}, ErrNoFingerprint},
		{"placeholders and virtual NICs", machine{
			files: map[string]string{
				"etc/machine-id":                  "\n",
				"sys/class/dmi/id/product_uuid":   "00000000-0000-0000-0000-000000000000\n",
				"sys/class/dmi/id/product_serial": "To Be Filled By O.E.M.\n",
				"sys/class/dmi/id/board_serial":   "Default string\n",
			},
			nics: []nicFixture{
				{"lo", "00:00:00:00:00:00", "0", ""},
				{"br0", "52:54:00:aa:bb:cc", "3", ""},
				{"usb0", "12:34:56:78:9a:bc", "1", "usb"},
				{"ib0", "80:00:00:48:fe:80:00:00:00:00:00:00:f4:52:14:03:00:7b:cb:a1", "0", "pci"},
			},
		}, ErrNoFingerprint},
	}
	for _, tt := range tests {
		fp, err := fingerprintFrom(tt.m.tree(t))
		if !errors.Is(err, tt.err) || (err == nil) != hex64.MatchString(fp) {
			t.Errorf("%s: fingerprintFrom = %q, %v; want error %v", tt.name, fp, err, tt.err)
		}
	}
}

func TestFingerprintUnreadable(t *testing.T) {
	m := laptop()
	delete(m.files, "sys/class/dmi/id/product_serial")
	want, err := fingerprintFrom(m.tree(t))
	if err != nil {
		t.Fatal(err)
	}
	// A directory where the file should be cannot be read, even by root,
	// who can read a file of mode 0.
	root := m.tree(t)
	mustMkdir(t, filepath.Join(root, "sys/class/dmi/id/product_serial"))
	if got, err := fingerprintFrom(root); err != nil || got != want {
		t.Errorf("fingerprintFrom with product_serial unreadable = %q, %v; want %q as without it", got, err, want)
	}
}

func TestPermAddr(t *testing.T) {
	m := laptop()
	m.nics = m.nics[1:2]
	m.nics[0].address, m.nics[0].assignType = "2e:8c:31:40:5a:6b", "3" // randomised
	root := m.tree(t)
	perm := net.HardwareAddr{0xf4, 0x26, 0x79, 0x1a, 0x2b, 0x3c}
	tests := []struct {
		name     string
		permAddr func(string) (net.HardwareAddr, error)
		wantMAC  string // "" for no mac part
	}{
		{"driver knows", func(string) (net.HardwareAddr, error) { return perm, nil }, "mac=f4:26:79:1a:2b:3c"},
		{"driver fails", func(string) (net.HardwareAddr, error) { return nil, errors.New("operation not supported") }, ""},
		{"driver has none", func(string) (net.HardwareAddr, error) { return make(net.HardwareAddr, 6), nil }, ""},
		{"no ethtool", nil, ""},
	}
	for _, tt := range tests {
		var macs []string
		for _, p := range sysfsParts(root, tt.permAddr) {
			if p[:4] == "mac=" {
				macs = append(macs, p)
			}
		}
		var want []string
		if tt.wantMAC != "" {
			want = []string{tt.wantMAC}
		}
		if !reflect.DeepEqual(macs, want) {
			t.Errorf("%s: sysfsParts MAC parts = %q, want %q", tt.name, macs, want)
		}
	}
}

func TestUsable(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"B5Q3Z92", true},
		{"4c4c4544-0042-3510-8051-b7c04f4e3332", true},
		{"VMware-56 4d 1c 2b 3a 49 5e 6f-7a 8b 9c 0d 1e 2f 3a 4b", true},
		{"", false},
		{"To Be Filled By O.E.M.", false},
		{"DEFAULT STRING", false},
		{"System Serial Number", false},
		{"00000000-0000-0000-0000-000000000000", false},
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", false},
		{"ffffffff", false},
		{"---", false},
		{"0", false},
	}
	for _, tt := range tests {
		if got := usable(tt.v); got != tt.want {
			t.Errorf("usable(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// smbiosStruct returns one SMBIOS structure: header, formatted area, strings.
func smbiosStruct(typ byte, formatted []byte, strs ...string) []byte {
	b := append([]byte{typ, byte(4 + len(formatted)), 0x01, 0x00}, formatted...)
	if len(strs) == 0 {
		return append(b, 0, 0)
	}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

// rawSMBIOSData returns what GetSystemFirmwareTable('RSMB') returns.
func rawSMBIOSData(major, minor byte, structs ...[]byte) []byte {
	table := bytes.Join(structs, nil)
	b := []byte{0, major, minor, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(table)))
	return append(b, table...)
}

func TestParseRawSMBIOS(t *testing.T) {
	// The UUID 4c4c4544-0042-3510-8051-b7c04f4e3332 as SMBIOS 2.6+ stores it.
	uuidLE := []byte{0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x51, 0xb7, 0xc0, 0x4f, 0x4e, 0x33, 0x32}
	system := func(uuid []byte) []byte {
		f := append([]byte{1, 2, 0, 3}, uuid...) // manufacturer, product, no version, serial, UUID
		f = append(f, 6, 4, 5)                   // wake-up type, SKU, family
		return smbiosStruct(1, f, "Dell Inc.", "Latitude 7440", "B5Q3Z92", "SKU=0C0B", "Latitude")
	}
	bios := smbiosStruct(0, []byte{1, 2, 0, 0xf0, 3, 0xff}, "Dell Inc.", "1.12.1", "03/14/2025")
	board := smbiosStruct(2, []byte{1, 2, 3, 4, 0}, "Dell Inc.", "0K3JVC", "A00", "/B5Q3Z92/CNFCW0025U00BY/")
	end := smbiosStruct(127, nil)
	want := smbiosIDs{UUID: "4c4c4544-0042-3510-8051-b7c04f4e3332", ProductSerial: "B5Q3Z92", BoardSerial: "/B5Q3Z92/CNFCW0025U00BY/"}

	tests := []struct {
		name    string
		raw     []byte
		want    smbiosIDs
		wantErr bool
	}{
		{"SMBIOS 3.4", rawSMBIOSData(3, 4, bios, system(uuidLE), board, end), want, false},
		{"SMBIOS 2.4 stores the UUID big-endian", rawSMBIOSData(2, 4, system(uuidLE)),
			smbiosIDs{UUID: "44454c4c-4200-1035-8051-b7c04f4e3332", ProductSerial: "B5Q3Z92"}, false},
		{"no UUID", rawSMBIOSData(3, 0, system(bytes.Repeat([]byte{0xff}, 16)), board),
			smbiosIDs{ProductSerial: "B5Q3Z92", BoardSerial: want.BoardSerial}, false},
		{"structures after the end are ignored", rawSMBIOSData(3, 4, end, system(uuidLE)), smbiosIDs{}, false},
		{"first system structure counts", rawSMBIOSData(3, 4, system(uuidLE), smbiosStruct(1, []byte{1, 2, 3, 1}, "other")),
			smbiosIDs{UUID: want.UUID, ProductSerial: want.ProductSerial}, false},
		{"string index past the strings", rawSMBIOSData(3, 4, smbiosStruct(2, []byte{1, 2, 3, 9}, "Dell Inc.")), smbiosIDs{}, false},
		{"no header", []byte{0, 3, 4}, smbiosIDs{}, true},
		{"length past the data", append(rawSMBIOSData(3, 4, bios), 0xff)[:12], smbiosIDs{}, true},
		{"bad structure length", rawSMBIOSData(3, 4, []byte{1, 2, 0, 0, 0, 0}), smbiosIDs{}, true},
		{"unterminated strings", rawSMBIOSData(3, 4, []byte{2, 8, 0, 0, 1, 2, 3, 4, 'x', 0}), smbiosIDs{}, true},
	}
	for _, tt := range tests {
		got, err := parseRawSMBIOS(tt.raw)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("%s: parseRawSMBIOS = %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFingerprintThisMachine(t *testing.T) {
	a, err := Fingerprint()
	if errors.Is(err, ErrNoFingerprint) {
		t.Skip("this machine shows no identifier")
	}
	if err != nil || !hex64.MatchString(a) {
		t.Fatalf("Fingerprint() = %q, %v; want 64 hex digits", a, err)
	}
	if b, err := Fingerprint(); err != nil || b != a {
		t.Errorf("Fingerprint() again = %q, %v; want %q", b, err, a)
	}
}
