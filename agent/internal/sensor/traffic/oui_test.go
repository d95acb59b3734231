package traffic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ouiTestMAC(t testing.TB, s string) [6]byte {
	t.Helper()
	var m [6]byte
	v, n, ok := ouiParseHexBytes(s, ':')
	if !ok || n != 6 {
		t.Fatalf("bad test MAC %q", s)
	}
	for i := 5; i >= 0; i-- {
		m[i] = byte(v)
		v >>= 8
	}
	return m
}

func TestLoadOUI(t *testing.T) {
	ieee, err := ouiLoadWith(filepath.Join("testdata", "oui_ieee.txt"), "oui_mam.txt", "oui_oui36.txt")
	if err != nil {
		t.Fatal(err)
	}
	manuf, err := LoadOUI(filepath.Join("testdata", "oui_manuf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mac         string
		ieee, manuf string
	}{
		{"00:00:0c:12:34:56", "Cisco Systems, Inc", "Cisco Systems, Inc"},
		{"90:b1:1c:99:49:29", "Dell Inc.", ""},
		{"00:0c:29:40:0e:ef", "VMware, Inc.", "VMware"}, // the first entry for a prefix wins
		{"f8:ed:a5:c0:a4:f1", "", "ARRIS Group, Inc."},
		{"00:1b:c5:90:00:01", "Twenty Eight Bits AS", "Twenty Eight Bits AS"}, // MA-M
		{"00:1b:c5:9f:ff:ff", "Twenty Eight Bits AS", "Twenty Eight Bits AS"}, // MA-M, end of block
		{"00:1b:c5:f2:b0:07", "Thirty Six Bits AB", "Thirty Six Bits AB"},     // MA-S
		{"00:1b:c5:f2:c0:07", "IEEE Registration Authority", ""},              // outside both blocks
		{"00:1b:c5:a0:00:00", "IEEE Registration Authority", ""},              // outside the MA-M block
		{"02:00:0c:12:34:56", "", ""},                                         // locally administered
		{"01:00:0c:cc:cc:cc", "", ""},                                         // group address
		{"ff:ff:ff:ff:ff:ff", "", ""},                                         // broadcast
		{"00:00:0d:00:00:00", "", ""},                                         // unknown
	}
	for _, tt := range tests {
		m := ouiTestMAC(t, tt.mac)
		if got := ieee.Vendor(m); got != tt.ieee {
			t.Errorf("IEEE list: Vendor(%s) = %q, want %q", tt.mac, got, tt.ieee)
		}
		if got := manuf.Vendor(m); got != tt.manuf {
			t.Errorf("simple list: Vendor(%s) = %q, want %q", tt.mac, got, tt.manuf)
		}
	}
	if n := ieee.Len(); n != 6 {
		t.Errorf("IEEE list with MA-M and MA-S: Len() = %d, want 6", n)
	}
	if n := manuf.Len(); n != 5 {
		t.Errorf("simple list: Len() = %d, want 5", n)
	}
}

func TestLoadOUIErrors(t *testing.T) {
	for _, name := range []string{"oui_none.txt", "oui_missing.txt"} {
		path := filepath.Join("testdata", name)
		o, err := LoadOUI(path)
		if err == nil {
			t.Errorf("LoadOUI(%s) = %d prefixes, want an error", path, o.Len())
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("LoadOUI(%s) error %q does not name the file", path, err)
		}
	}
	// An empty file has no entries either.
	empty := filepath.Join(t.TempDir(), "oui.txt")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOUI(empty); err == nil {
		t.Errorf("LoadOUI(empty file) succeeded, want an error")
	}
}

func TestOUINil(t *testing.T) {
	var o *OUI
	if got := o.Vendor(ouiTestMAC(t, "00:00:0c:00:00:01")); got != "" {
		t.Errorf("nil OUI: Vendor = %q, want \"\"", got)
	}
	if o.Len() != 0 {
		t.Errorf("nil OUI: Len = %d, want 0", o.Len())
	}
}

// ouiRealPath is the IEEE list Debian's ieee-data installs (and the CI has).
const ouiRealPath = "/usr/share/ieee-data/oui.txt"

func ouiNeedReal(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ouiRealPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (install the Debian package ieee-data): %v", ouiRealPath, err)
		}
		t.Skipf("%s is missing (install the Debian package ieee-data)", ouiRealPath)
	}
}

func TestOUIRealFile(t *testing.T) {
	ouiNeedReal(t)
	o, err := LoadOUI(ouiRealPath)
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() < 20000 {
		t.Errorf("LoadOUI(%s) = %d prefixes, want the whole list (> 20000)", ouiRealPath, o.Len())
	}
	tests := []struct{ mac, want string }{
		{"00:00:0c:07:ac:01", "Cisco"},
		{"90:b1:1c:99:49:29", "Dell"},
		{"00:0c:29:40:0e:ef", "VMware"},
	}
	for _, tt := range tests {
		if got := o.Vendor(ouiTestMAC(t, tt.mac)); !strings.Contains(got, tt.want) {
			t.Errorf("Vendor(%s) = %q, want it to name %s", tt.mac, got, tt.want)
		}
	}
	def := DefaultOUI()
	if def == nil {
		t.Fatalf("DefaultOUI() = nil with %s present", ouiRealPath)
	}
	if def.Len() < o.Len() {
		t.Errorf("DefaultOUI() has %d prefixes, fewer than %s alone (%d)", def.Len(), ouiRealPath, o.Len())
	}
	if got := def.Vendor(ouiTestMAC(t, "00:00:0c:07:ac:01")); !strings.Contains(got, "Cisco") {
		t.Errorf("DefaultOUI().Vendor(00:00:0c:07:ac:01) = %q, want Cisco", got)
	}
}

func TestVendorNoAlloc(t *testing.T) {
	o, err := LoadOUI(filepath.Join("testdata", "oui_ieee.txt"))
	if err != nil {
		t.Fatal(err)
	}
	macs := [][6]byte{ouiTestMAC(t, "00:00:0c:12:34:56"), ouiTestMAC(t, "00:00:0d:00:00:00"), ouiTestMAC(t, "02:00:0c:12:34:56")}
	var sink string
	allocs := testing.AllocsPerRun(1000, func() {
		for _, m := range macs {
			sink = o.Vendor(m)
		}
	})
	_ = sink
	if allocs != 0 {
		t.Errorf("Vendor allocates %.1f times a run, want 0", allocs)
	}
}

func BenchmarkVendor(b *testing.B) {
	ouiNeedReal(b)
	o, err := LoadOUI(ouiRealPath)
	if err != nil {
		b.Fatal(err)
	}
	m := ouiTestMAC(b, "90:b1:1c:99:49:29")
	b.ReportAllocs()
	for b.Loop() {
		if o.Vendor(m) == "" {
			b.Fatal("no vendor")
		}
	}
}

func BenchmarkLoadOUI(b *testing.B) {
	ouiNeedReal(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadOUI(ouiRealPath); err != nil {
			b.Fatal(err)
		}
	}
}
