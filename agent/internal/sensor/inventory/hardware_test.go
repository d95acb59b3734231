package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// dellR6515 is the DMI identity both sysfs fixture trees carry (a Dell
// PowerEdge R6515, chassis type 23: rack mount), and what the SMBIOS table
// of hardware_smbios_test.go decodes to.
var dellR6515 = wire.System{
	Vendor: "Dell Inc.", Model: "PowerEdge R6515", Serial: "7N62AI2",
	UUID: "83340ca8-cb49-4474-8c29-d2088ca84dd9", Chassis: "server",
	BIOSVendor: "Dell Inc.", BIOSVersion: "2.2.4", BoardSerial: ".7N62AI2.GRTCL6944100GP.",
}

func TestChassisName(t *testing.T) {
	for _, c := range []struct {
		typ  int
		want string
	}{
		{1, "other"}, {2, ""}, {3, "desktop"}, {7, "desktop"}, {13, "desktop"}, {35, "desktop"},
		{9, "laptop"}, {10, "laptop"}, {14, "laptop"}, {31, "laptop"}, {32, "laptop"},
		{17, "server"}, {23, "server"}, {28, "server"}, {29, "enclosure"},
		{30, "tablet"}, {11, "handheld"}, {12, "docking-station"}, {34, "embedded"},
		{0x80 | 23, "server"}, // bit 7: chassis lock present
		{0, ""}, {37, ""}, {0x7f, ""},
	} {
		if got := chassisName(c.typ); got != c.want {
			t.Errorf("chassisName(%d) = %q, want %q", c.typ, got, c.want)
		}
	}
}

func TestSMBIOSVirtual(t *testing.T) {
	for _, c := range []struct {
		vendor, product string
		want            bool
	}{
		{"QEMU", "Standard PC (Q35 + ICH9, 2009)", true},
		{"innotek GmbH", "VirtualBox", true},
		{"VMware, Inc.", "VMware Virtual Platform", true},
		{"Microsoft Corporation", "Virtual Machine", true},
		{"Microsoft Corporation", "Surface Laptop 5", false},
		{"Amazon EC2", "m5.large", true},
		{"Amazon EC2", "c5.metal", false},
		{"Xen", "HVM domU", true},
		{"Google", "Google Compute Engine", true},
		{"Dell Inc.", "PowerEdge R6515", false},
		{"", "", false},
	} {
		if got := smbiosVirtual(c.vendor, c.product); got != c.want {
			t.Errorf("smbiosVirtual(%q, %q) = %v, want %v", c.vendor, c.product, got, c.want)
		}
	}
}

func TestSMBIOSValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Dell Inc.\n", "Dell Inc."},
		{"  LENOVO  ", "LENOVO"},
		{"To Be Filled By O.E.M.", ""},
		{"Default string", ""},
		{"System Serial Number", ""},
		{"0123456789", ""},
		{"Not Specified", ""},
		{"CND1234XYZ", "CND1234XYZ"},
		{"ab\x00cd", "ab"},
		{"\xff\x1c[\xe2", "\uFFFD[\uFFFD"}, // node_exporter's product_version: bytes, not text
	} {
		if got := smbiosValue([]byte(c.in)); got != c.want {
			t.Errorf("smbiosValue(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSMBIOSUUIDValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"83340CA8-CB49-4474-8C29-D2088CA84DD9\n", "83340ca8-cb49-4474-8c29-d2088ca84dd9"},
		{"00000000-0000-0000-0000-000000000000", ""},
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", ""},
		{"03000200-0400-0500-0006-000700080009", "03000200-0400-0500-0006-000700080009"},
		{"not-a-uuid", ""},
		{"83340ca8-cb49-4474-8c29-d2088ca84dzz", ""},
	} {
		if got := smbiosUUIDValue(c.in); got != c.want {
			t.Errorf("smbiosUUIDValue(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// hwDiff returns the lines in which the JSON forms of got and want differ,
// "" when they are equal.
func hwDiff(got, want any) string {
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) == string(w) {
		return ""
	}
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	var b strings.Builder
	for i := range max(len(gl), len(wl)) {
		var x, y string
		if i < len(wl) {
			x = wl[i]
		}
		if i < len(gl) {
			y = gl[i]
		}
		if x != y {
			fmt.Fprintf(&b, "-%s\n+%s\n", x, y)
		}
	}
	return b.String()
}
