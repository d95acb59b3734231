package inventory

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// smbiosStruct builds one SMBIOS structure (DSP0134 6.1.2): type, length,
// handle, the formatted area after the 4-byte header, then the strings,
// each NUL-terminated, and the NUL that ends the set (two NULs for none).
func smbiosStruct(typ byte, formatted []byte, strs ...string) []byte {
	b := append([]byte{typ, byte(4 + len(formatted)), 0x00, 0x01}, formatted...)
	if len(strs) == 0 {
		return append(b, 0, 0)
	}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

// rawSMBIOS builds what GetSystemFirmwareTable('RSMB') returns: the
// RawSMBIOSData header (Used20CallingMethod, major, minor, DmiRevision,
// Length) and the table.
func rawSMBIOS(major, minor byte, structs ...[]byte) []byte {
	var table []byte
	for _, s := range structs {
		table = append(table, s...)
	}
	b := []byte{0, major, minor, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(table)))
	return append(b, table...)
}

// The Dell PowerEdge R6515 of the sysfs fixtures as its SMBIOS 3.3 table
// would hold it: what Windows reads must equal what Linux reads.
var (
	r6515UUID = []byte{0xa8, 0x0c, 0x34, 0x83, 0x49, 0xcb, 0x74, 0x44, 0x8c, 0x29, 0xd2, 0x08, 0x8c, 0xa8, 0x4d, 0xd9}
	r6515BIOS = smbiosStruct(0, []byte{1, 2, 0x00, 0xf0, 3, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2},
		"Dell Inc.", "2.2.4", "04/12/2021")
	r6515Board = smbiosStruct(2, []byte{1, 2, 3, 4, 0, 0x09, 0, 0x00, 0x03, 0x0a, 0},
		"Dell Inc.", "07PXPY", "A01", ".7N62AI2.GRTCL6944100GP.")
	r6515Chassis = smbiosStruct(3, []byte{1, 23, 0, 2, 0, 3, 3, 3, 3},
		"Dell Inc.", "7N62AI2")
	smbiosEnd = smbiosStruct(127, nil)
)

func r6515System(uuid []byte, strs ...string) []byte {
	f := append([]byte{1, 2, 0, 3}, uuid...)
	f = append(f, 6, 4, 5) // wake-up type, SKU, family
	if len(strs) == 0 {
		strs = []string{"Dell Inc.", "PowerEdge R6515", "7N62AI2", "SKU=NotProvided;ModelName=PowerEdge R6515", "PowerEdge"}
	}
	return smbiosStruct(1, f, strs...)
}

func TestWindowsSystem(t *testing.T) {
	registryBIOS := map[string]string{ // as HKLM\HARDWARE\DESCRIPTION\System\BIOS holds them
		"SystemManufacturer": "Dell Inc.", "SystemProductName": "PowerEdge R6515", "BIOSVendor": "Dell Inc.", "BIOSVersion": "2.2.4",
	}
	full := rawSMBIOS(3, 3, r6515BIOS, r6515System(r6515UUID), r6515Board, r6515Chassis, smbiosEnd)
	for _, c := range []struct {
		name    string
		bios    map[string]string
		raw     []byte
		want    wire.System
		wantErr string
	}{
		{name: "registry and smbios", bios: registryBIOS, raw: full, want: dellR6515},
		{name: "smbios only", raw: full, want: dellR6515},
		{name: "registry only", bios: registryBIOS,
			want: wire.System{Vendor: "Dell Inc.", Model: "PowerEdge R6515", BIOSVendor: "Dell Inc.", BIOSVersion: "2.2.4"}},
		{
			// Before SMBIOS 2.6 the UUID is stored big-endian throughout.
			name: "smbios 2.5", raw: rawSMBIOS(2, 5, r6515System(r6515UUID)),
			want: wire.System{Vendor: "Dell Inc.", Model: "PowerEdge R6515", Serial: "7N62AI2", UUID: "a80c3483-49cb-7444-8c29-d2088ca84dd9"},
		},
		{
			name: "placeholders", raw: rawSMBIOS(3, 0, r6515System(make([]byte, 16), "To Be Filled By O.E.M.", "To Be Filled By O.E.M.", "Default string", "Default string", "Default string")),
			want: wire.System{},
		},
		{
			name: "a virtual machine",
			bios: map[string]string{"SystemManufacturer": "QEMU", "SystemProductName": "Standard PC (Q35 + ICH9, 2009)"},
			raw:  rawSMBIOS(3, 0, smbiosStruct(3, []byte{1, 1, 0, 0, 0}, "QEMU")),
			want: wire.System{Vendor: "QEMU", Model: "Standard PC (Q35 + ICH9, 2009)", Chassis: "vm"},
		},
		{
			name: "structures after the end are ignored", raw: rawSMBIOS(3, 3, r6515BIOS, smbiosEnd, r6515System(r6515UUID)),
			want: wire.System{BIOSVendor: "Dell Inc.", BIOSVersion: "2.2.4"},
		},
		{
			name: "the first structure of a type counts", raw: rawSMBIOS(3, 3, r6515Chassis, smbiosStruct(3, []byte{1, 9, 0, 0, 0}, "Other")),
			want: wire.System{Chassis: "server"},
		},
		{
			name: "string index past the strings", raw: rawSMBIOS(3, 3, smbiosStruct(1, []byte{1, 2, 0, 9}, "Dell Inc.")),
			want: wire.System{Vendor: "Dell Inc."},
		},
		{
			name: "cut off", raw: rawSMBIOS(3, 3, r6515BIOS, r6515System(r6515UUID)[:20]),
			want:    wire.System{BIOSVendor: "Dell Inc.", BIOSVersion: "2.2.4"},
			wantErr: "smbios structure of type 1 has bad length 27",
		},
		{
			name: "unterminated strings", raw: rawSMBIOS(3, 3, r6515BIOS, []byte{2, 5, 0, 1, 1, 'x'}),
			want:    wire.System{BIOSVendor: "Dell Inc.", BIOSVersion: "2.2.4"},
			wantErr: "unterminated strings",
		},
		{name: "no header", raw: []byte{0, 3}, wantErr: "has no header"},
		{name: "length past the data", raw: func() []byte { b := rawSMBIOS(3, 3, r6515BIOS); b[4]++; return b }(), wantErr: "claims"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := windowsSystem(c.bios, c.raw)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("windowsSystem error = %v, want %q", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("windowsSystem = %+v\nwant %+v", got, c.want)
			}
		})
	}
}
