package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrNoFingerprint is returned by Fingerprint when the machine shows none of
// the identifiers it is made of.
var ErrNoFingerprint = errors.New("no machine identifier to fingerprint")

// Fingerprint returns the hardware fingerprint sent at enrollment: the hex
// SHA-256 of the machine's stable identifiers, each labelled, sorted.
//
// On Linux: etc/machine-id; the DMI product UUID, product serial and board
// serial (readable by root only: a fingerprint taken without root lacks them);
// the permanent MACs of the physical NICs.
//
// On Windows: the MachineGuid; the SMBIOS system UUID, system serial and
// board serial, read with GetSystemFirmwareTable (the registry holds no
// UUID: HKLM\HARDWARE\DESCRIPTION\System\BIOS has names and versions only);
// the permanent MACs of the hardware NICs.
//
// A physical NIC is one backed by a device that is not on USB: docks, dongles
// and tethered phones come and go. The fingerprint survives reboots, address
// and hostname changes and MAC randomisation; it changes when the OS is
// reinstalled, the mainboard or a built-in NIC is replaced.
func Fingerprint() (string, error) {
	return systemParts().sum()
}

// parts are the labelled identifiers a fingerprint is made of.
type parts []string

// add adds value under label unless it is a placeholder.
func (p *parts) add(label, value string) {
	if value = strings.TrimSpace(value); usable(value) {
		*p = append(*p, label+"="+value)
	}
}

// sum returns the fingerprint of p.
func (p parts) sum() (string, error) {
	if len(p) == 0 {
		return "", ErrNoFingerprint
	}
	s := slices.Clone(p)
	slices.Sort(s)
	s = slices.Compact(s)
	h := sha256.New()
	h.Write([]byte("sonevakt fingerprint v1\n"))
	for _, v := range s {
		h.Write([]byte(v))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// placeholders are what firmware writes where a vendor left a serial or UUID
// unset; they identify nothing.
var placeholders = []string{
	"to be filled by o.e.m.", "default string", "system serial number", "base board serial number",
	"chassis serial number", "not specified", "not applicable", "not available", "none", "n/a",
	"na", "unknown", "invalid", "0123456789", "123456789", "serialnumber", "serial number",
}

// usable reports whether v identifies something: not empty, not a firmware
// placeholder, not one character repeated (0000…, FFFF…, dashes between).
func usable(v string) bool {
	if v == "" || slices.Contains(placeholders, strings.ToLower(v)) {
		return false
	}
	digits := strings.ToLower(strings.NewReplacer("-", "", ":", "", " ", "").Replace(v))
	first, _ := utf8.DecodeRuneInString(digits)
	return strings.Trim(digits, string(first)) != ""
}

// usableMAC reports whether hw is a unicast EUI-48 address that is not zero.
func usableMAC(hw net.HardwareAddr) bool {
	return len(hw) == 6 && hw[0]&1 == 0 && !bytes.Equal(hw, make(net.HardwareAddr, 6))
}

// fingerprintFrom returns the fingerprint of the Linux machine whose files
// are below root. Tests point it at fixture trees.
func fingerprintFrom(root string) (string, error) {
	return sysfsParts(root, nil).sum()
}

// sysfsParts reads the identifiers of a Linux machine below root. permAddr,
// when not nil, asks the driver for a NIC's permanent address; without it, or
// when it fails, the current address counts only if the kernel marks it as
// the permanent one (addr_assign_type 0). It is portable code, so that its
// tests run on every OS.
func sysfsParts(root string, permAddr func(ifname string) (net.HardwareAddr, error)) parts {
	var p parts
	id := readTrim(filepath.Join(root, "etc/machine-id"))
	if id == "" {
		id = readTrim(filepath.Join(root, "var/lib/dbus/machine-id"))
	}
	p.add("machine-id", id)
	dmi := filepath.Join(root, "sys/class/dmi/id")
	p.add("product-uuid", strings.ToLower(readTrim(filepath.Join(dmi, "product_uuid"))))
	p.add("product-serial", readTrim(filepath.Join(dmi, "product_serial")))
	p.add("board-serial", readTrim(filepath.Join(dmi, "board_serial")))

	netDir := filepath.Join(root, "sys/class/net")
	ents, _ := os.ReadDir(netDir)
	for _, e := range ents {
		dir := filepath.Join(netDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "device")); err != nil {
			continue // virtual: bridge, veth, tun, bond …
		}
		if sub, err := os.Readlink(filepath.Join(dir, "device", "subsystem")); err == nil && filepath.Base(sub) == "usb" {
			continue
		}
		var hw net.HardwareAddr
		if permAddr != nil {
			if a, err := permAddr(e.Name()); err == nil && usableMAC(a) {
				hw = a
			}
		}
		if hw == nil {
			if t := readTrim(filepath.Join(dir, "addr_assign_type")); t == "" || t == "0" {
				hw, _ = net.ParseMAC(readTrim(filepath.Join(dir, "address")))
			}
		}
		if usableMAC(hw) {
			p.add("mac", hw.String())
		}
	}
	return p
}

// readTrim returns a file's content without surrounding space; "" when it
// cannot be read.
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// smbiosIDs are the identifiers in an SMBIOS table.
type smbiosIDs struct {
	UUID          string // system UUID (type 1), lower case, as Linux prints product_uuid
	ProductSerial string // system serial number (type 1)
	BoardSerial   string // baseboard serial number (type 2)
}

// parseRawSMBIOS reads the identifiers from what GetSystemFirmwareTable('RSMB')
// returns: a RawSMBIOSData header (calling method, major, minor, DMI revision,
// 32-bit length) followed by the structure table. Only Windows calls it; it
// is portable code so that its tests run on every OS.
func parseRawSMBIOS(b []byte) (smbiosIDs, error) {
	var ids smbiosIDs
	if len(b) < 8 {
		return ids, fmt.Errorf("smbios data of %d bytes has no header", len(b))
	}
	major, minor, n := b[1], b[2], binary.LittleEndian.Uint32(b[4:8])
	t := b[8:]
	if uint64(n) > uint64(len(t)) {
		return ids, fmt.Errorf("smbios table of %d bytes claims %d", len(t), n)
	}
	t = t[:n]
	var seen1, seen2 bool
	for len(t) >= 4 {
		typ, length := t[0], int(t[1])
		if length < 4 || length > len(t) {
			return ids, fmt.Errorf("smbios structure of type %d has bad length %d", typ, length)
		}
		f := t[:length]
		end := bytes.Index(t[length:], []byte{0, 0})
		if end < 0 {
			return ids, fmt.Errorf("smbios structure of type %d has unterminated strings", typ)
		}
		strs := bytes.Split(t[length:length+end], []byte{0})
		str := func(i byte) string {
			if i == 0 || int(i) > len(strs) {
				return ""
			}
			return strings.TrimSpace(string(strs[i-1]))
		}
		switch {
		case typ == 1 && !seen1:
			seen1 = true
			if length >= 8 {
				ids.ProductSerial = str(f[7])
			}
			if length >= 0x19 {
				ids.UUID = smbiosUUID(f[8:24], major > 2 || major == 2 && minor >= 6)
			}
		case typ == 2 && !seen2:
			seen2 = true
			if length >= 8 {
				ids.BoardSerial = str(f[7])
			}
		case typ == 127:
			return ids, nil
		}
		t = t[length+end+2:]
	}
	return ids, nil
}

// smbiosUUID formats a type 1 UUID like Linux's product_uuid: since SMBIOS 2.6
// its first three fields are little-endian. All zeros or all ones mean none.
func smbiosUUID(u []byte, littleEndian bool) string {
	if bytes.Count(u, []byte{0}) == 16 || bytes.Count(u, []byte{0xff}) == 16 {
		return ""
	}
	u = slices.Clone(u)
	if littleEndian {
		slices.Reverse(u[0:4])
		slices.Reverse(u[4:6])
		slices.Reverse(u[6:8])
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
