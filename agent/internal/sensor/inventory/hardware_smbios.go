package inventory

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The Windows system identity, decoded portably so that it is tested on
// Linux: the SMBIOS table as GetSystemFirmwareTable('RSMB') returns it
// (a RawSMBIOSData header, then the structures of DSP0134), and the values
// Windows copies from it into HKLM\HARDWARE\DESCRIPTION\System\BIOS.

// windowsSystem returns the identity from the registry's BIOS key values
// and the raw SMBIOS data; either may be missing. The registry names vendor,
// model and BIOS; serials, UUID, chassis and asset tag come from SMBIOS only.
func windowsSystem(bios map[string]string, raw []byte) (wire.System, error) {
	var sm wire.System
	var err error
	if raw != nil {
		sm, err = parseSMBIOSSystem(raw)
	}
	reg := func(name string) string { return smbiosValue([]byte(bios[name])) }
	s := wire.System{
		Vendor:      cmp.Or(reg("SystemManufacturer"), sm.Vendor),
		Model:       cmp.Or(reg("SystemProductName"), sm.Model),
		Serial:      sm.Serial,
		UUID:        sm.UUID,
		Chassis:     sm.Chassis,
		AssetTag:    sm.AssetTag,
		BIOSVendor:  cmp.Or(reg("BIOSVendor"), sm.BIOSVendor),
		BIOSVersion: cmp.Or(reg("BIOSVersion"), sm.BIOSVersion),
		BoardSerial: sm.BoardSerial,
	}
	if smbiosVirtual(s.Vendor, s.Model) {
		s.Chassis = "vm"
	}
	return s, err
}

// parseSMBIOSSystem decodes the identity in raw SMBIOS data: the first BIOS
// (type 0), system (1), baseboard (2) and chassis (3) structures. A table
// that breaks off yields what came before the break, with an error.
func parseSMBIOSSystem(raw []byte) (wire.System, error) {
	var s wire.System
	if len(raw) < 8 {
		return s, fmt.Errorf("smbios data of %d bytes has no header", len(raw))
	}
	major, minor := raw[1], raw[2]
	n := binary.LittleEndian.Uint32(raw[4:8])
	t := raw[8:]
	if uint64(n) > uint64(len(t)) {
		return s, fmt.Errorf("smbios table of %d bytes claims %d", len(t), n)
	}
	t = t[:n]
	var seen [4]bool
	for len(t) >= 4 {
		typ, length := t[0], int(t[1])
		if length < 4 || length > len(t) {
			return s, fmt.Errorf("smbios structure of type %d has bad length %d", typ, length)
		}
		f := t[:length]
		// The strings follow the formatted area, each NUL-terminated, the
		// set ended by a second NUL (two NULs when there are none).
		end := bytes.Index(t[length:], []byte{0, 0})
		if end < 0 {
			return s, fmt.Errorf("smbios structure of type %d has unterminated strings", typ)
		}
		strs := bytes.Split(t[length:length+end], []byte{0})
		str := func(off int) string {
			if off >= length || f[off] == 0 || int(f[off]) > len(strs) {
				return ""
			}
			return smbiosValue(strs[f[off]-1])
		}
		if typ == 127 {
			break
		}
		if typ < 4 && !seen[typ] {
			seen[typ] = true
			switch typ {
			case 0:
				s.BIOSVendor, s.BIOSVersion = str(0x04), str(0x05)
			case 1:
				s.Vendor, s.Model, s.Serial = str(0x04), str(0x05), str(0x07)
				if length >= 0x18 {
					s.UUID = smbiosUUID(f[0x08:0x18], major > 2 || major == 2 && minor >= 6)
				}
			case 2:
				s.BoardSerial = str(0x07)
			case 3:
				if length > 0x05 {
					s.Chassis = chassisName(int(f[0x05]))
				}
				s.AssetTag = str(0x08)
			}
		}
		t = t[length+end+2:]
	}
	return s, nil
}

// smbiosUUID formats a system UUID as Linux's product_uuid does: SMBIOS 2.6
// and later store its first three fields little-endian (DSP0134 7.2.1).
func smbiosUUID(u []byte, littleEndian bool) string {
	var b [16]byte
	copy(b[:], u)
	if littleEndian {
		b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
		b[4], b[5] = b[5], b[4]
		b[6], b[7] = b[7], b[6]
	}
	return smbiosUUIDValue(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
