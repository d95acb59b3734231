package traffic

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// OUI maps MAC address prefixes to the vendors they are assigned to: the
// IEEE's MA-L (24-bit), and where loaded MA-M (28-bit) and MA-S (36-bit)
// blocks, the longest prefix winning. A nil *OUI is valid and knows no
// vendor. An OUI is read-only after loading and safe for concurrent use.
type OUI struct {
	// tables hold the prefixes by length, longest first.
	tables [3]ouiTable
	// names holds every vendor name once, back to back; spans point into it.
	names string
}

// ouiTable is the sorted prefixes of one length with their vendor names.
type ouiTable struct {
	bits  uint
	keys  []uint64 // the top bits of the MAC address, sorted
	spans []ouiSpan
}

// ouiSpan is a vendor name as a slice of OUI.names.
type ouiSpan struct{ off, n uint32 }

// ouiBits are the prefix lengths an OUI knows, longest first, as its tables.
var ouiBits = [3]uint{36, 28, 24}

// ouiMaxName bounds a vendor name; longer ones are cut.
const ouiMaxName = 128

// ouiDefaultPaths are where Debian (ieee-data), Fedora (hwdata) and others
// keep the IEEE list, in the order DefaultOUI tries them.
var ouiDefaultPaths = []string{
	"/usr/share/ieee-data/oui.txt",
	"/usr/share/hwdata/oui.txt",
	"/usr/share/misc/oui.txt",
}

var (
	ouiDefaultOnce sync.Once
	ouiDefault     *OUI
)

// DefaultOUI returns the vendor list of this machine, loaded once from the
// first of /usr/share/ieee-data/oui.txt, /usr/share/hwdata/oui.txt and
// /usr/share/misc/oui.txt that loads (with the MA-M and MA-S lists mam.txt
// and oui36.txt beside it when present), or nil when there is none; a nil
// *OUI knows no vendor.
func DefaultOUI() *OUI {
	ouiDefaultOnce.Do(func() {
		for _, p := range ouiDefaultPaths {
			if o, err := ouiLoadWith(p, "mam.txt", "oui36.txt"); err == nil {
				ouiDefault = o
				return
			}
		}
	})
	return ouiDefault
}

// LoadOUI reads a vendor list: the IEEE's registry text format (oui.txt,
// and mam.txt and oui36.txt, whose "(base 16)" ranges give the longer
// prefixes), or the simple form of one prefix and name per line that hwdata
// and Wireshark's manuf use ("00:00:0C<TAB>Cisco", optionally with a
// "/28" or "/36" prefix length and a long name in a third column, which is
// preferred). Lines that are neither (addresses, headers, comments, blank
// lines) are skipped; a file with no entry at all is an error.
func LoadOUI(path string) (*OUI, error) {
	var b ouiBuilder
	if err := b.addFile(path); err != nil {
		return nil, err
	}
	return b.build(), nil
}

// ouiLoadWith loads the vendor list at path and merges the lists named by
// extras from the same folder, those that load.
func ouiLoadWith(path string, extras ...string) (*OUI, error) {
	var b ouiBuilder
	if err := b.addFile(path); err != nil {
		return nil, err
	}
	for _, name := range extras {
		var e ouiBuilder
		if err := e.addFile(filepath.Join(filepath.Dir(path), name)); err == nil {
			b.merge(&e)
		}
	}
	return b.build(), nil
}

// Vendor returns the vendor of a MAC address, or "" when the prefix is
// unknown or the address is locally administered (randomised) or a group
// address. It never allocates.
func (o *OUI) Vendor(mac [6]byte) string {
	if o == nil || mac[0]&0x03 != 0 {
		return ""
	}
	v := uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 |
		uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])
	for i := range o.tables {
		t := &o.tables[i]
		if len(t.keys) == 0 {
			continue
		}
		if j, ok := slices.BinarySearch(t.keys, v>>(48-t.bits)); ok {
			s := t.spans[j]
			return o.names[s.off : s.off+s.n]
		}
	}
	return ""
}

// Len returns the number of prefixes o knows.
func (o *OUI) Len() int {
	if o == nil {
		return 0
	}
	n := 0
	for i := range o.tables {
		n += len(o.tables[i].keys)
	}
	return n
}

// ouiBuilder collects entries while files are read; the first entry for a
// prefix wins.
type ouiBuilder struct {
	entries [3]map[uint64]string
}

// ouiTableIndex returns the table of a prefix length, or -1.
func ouiTableIndex(bits uint) int {
	for i, b := range ouiBits {
		if b == bits {
			return i
		}
	}
	return -1
}

func (b *ouiBuilder) add(prefix uint64, bits uint, name string) {
	i := ouiTableIndex(bits)
	if i < 0 || name == "" {
		return
	}
	if b.entries[i] == nil {
		b.entries[i] = make(map[uint64]string)
	}
	if _, dup := b.entries[i][prefix]; !dup {
		b.entries[i][prefix] = name
	}
}

func (b *ouiBuilder) merge(o *ouiBuilder) {
	for i, m := range o.entries {
		for k, v := range m {
			b.add(k, ouiBits[i], v)
		}
	}
}

func (b *ouiBuilder) count() int {
	n := 0
	for _, m := range b.entries {
		n += len(m)
	}
	return n
}

func (b *ouiBuilder) addFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open vendor list: %w", err)
	}
	defer f.Close()
	if err := b.read(f); err != nil {
		return fmt.Errorf("read vendor list %s: %w", path, err)
	}
	if b.count() == 0 {
		return fmt.Errorf("read vendor list %s: no MAC prefix in it", path)
	}
	return nil
}

// read parses one file into b.
func (b *ouiBuilder) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	// An IEEE "(hex)" line names a 24-bit block; in mam.txt and oui36.txt
	// the "(base 16)" line after it narrows it to a range of that block.
	var pending struct {
		ok     bool
		prefix uint64
		name   string
	}
	flush := func() {
		if pending.ok {
			b.add(pending.prefix, 24, pending.name)
			pending.ok = false
		}
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || line[0] == '#' || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if prefix, name, ok := ouiParseIEEEHex(line); ok {
			flush()
			pending.ok, pending.prefix, pending.name = true, prefix, name
			continue
		}
		if strings.Contains(line, "(base 16)") {
			if lo, bits, ok := ouiParseIEEERange(line); ok && pending.ok {
				b.add(pending.prefix<<(bits-24)|lo, bits, pending.name)
				pending.ok = false
			}
			flush()
			continue
		}
		if prefix, bits, name, ok := ouiParseSimple(line); ok {
			flush()
			b.add(prefix, bits, name)
		}
	}
	flush()
	return sc.Err()
}

// ouiParseIEEEHex parses "00-00-0C   (hex)\t\tCisco Systems, Inc".
func ouiParseIEEEHex(line string) (prefix uint64, name string, ok bool) {
	head, rest, found := strings.Cut(line, "(hex)")
	if !found {
		return 0, "", false
	}
	v, n, good := ouiParseHexBytes(strings.TrimSpace(head), '-')
	if !good || n != 3 {
		return 0, "", false
	}
	name = ouiCleanName(rest)
	return v, name, name != ""
}

// ouiParseIEEERange parses the "(base 16)" line of mam.txt ("900000-9FFFFF")
// and oui36.txt ("F2B000-F2BFFF"): the start of the range below the 24-bit
// block, shifted to its prefix length.
func ouiParseIEEERange(line string) (lo uint64, bits uint, ok bool) {
	head, _, found := strings.Cut(line, "(base 16)")
	if !found {
		return 0, 0, false
	}
	from, to, isRange := strings.Cut(strings.TrimSpace(head), "-")
	if !isRange || len(from) != 6 || len(to) != 6 {
		return 0, 0, false
	}
	a, _, okA := ouiParseHexRun(from)
	z, _, okZ := ouiParseHexRun(to)
	if !okA || !okZ || z < a {
		return 0, 0, false
	}
	switch z - a {
	case 0xFFFFF: // MA-M: 4 more bits
		return a >> 20, 28, true
	case 0xFFF: // MA-S: 12 more bits
		return a >> 12, 36, true
	}
	return 0, 0, false
}

// ouiParseSimple parses "00:00:0C<TAB>Cisco[<TAB>Cisco Systems, Inc]" and
// "00:1B:C5:00:00:00/36<TAB>…".
func ouiParseSimple(line string) (prefix uint64, bits uint, name string, ok bool) {
	fields := strings.FieldsFunc(line, func(r rune) bool { return r == '\t' })
	if len(fields) < 2 {
		// Some lists separate with spaces only: the first word is the prefix.
		head, rest, found := strings.Cut(line, " ")
		if !found {
			return 0, 0, "", false
		}
		fields = []string{head, rest}
	}
	addr := strings.TrimSpace(fields[0])
	bits = 24
	if a, l, found := strings.Cut(addr, "/"); found {
		switch l {
		case "24":
			bits = 24
		case "28":
			bits = 28
		case "36":
			bits = 36
		default:
			return 0, 0, "", false
		}
		addr = a
	}
	sep := byte(':')
	if strings.Contains(addr, "-") {
		sep = '-'
	}
	v, n, good := ouiParseHexBytes(addr, sep)
	if !good || n < 3 || n*8 < int(bits) {
		return 0, 0, "", false
	}
	v >>= uint(n*8) - bits
	name = ouiCleanName(fields[len(fields)-1])
	if name == "" {
		return 0, 0, "", false
	}
	return v, bits, name, true
}

// ouiParseHexBytes parses n two-digit hex bytes separated by sep (3 to 6 of
// them), or one run of 6 hex digits without separators.
func ouiParseHexBytes(s string, sep byte) (v uint64, n int, ok bool) {
	if len(s) == 6 && strings.IndexByte(s, sep) < 0 {
		v, _, ok = ouiParseHexRun(s)
		return v, 3, ok
	}
	for {
		if len(s) < 2 {
			return 0, 0, false
		}
		b, _, good := ouiParseHexRun(s[:2])
		if !good {
			return 0, 0, false
		}
		v = v<<8 | b
		n++
		s = s[2:]
		if s == "" {
			return v, n, n >= 3 && n <= 6
		}
		if s[0] != sep || n == 6 {
			return 0, 0, false
		}
		s = s[1:]
	}
}

// ouiParseHexRun parses a run of hex digits.
func ouiParseHexRun(s string) (v uint64, n int, ok bool) {
	if s == "" || len(s) > 12 {
		return 0, 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, len(s), true
}

// ouiCleanName trims a vendor name and makes it valid, printable UTF-8 of
// bounded length.
func ouiCleanName(s string) string {
	return discCleanText(s, ouiMaxName)
}

func (b *ouiBuilder) build() *OUI {
	o := &OUI{}
	var names strings.Builder
	offsets := make(map[string]ouiSpan)
	for i, m := range b.entries {
		t := &o.tables[i]
		t.bits = ouiBits[i]
		t.keys = make([]uint64, 0, len(m))
		for k := range m {
			t.keys = append(t.keys, k)
		}
		slices.Sort(t.keys)
		t.spans = make([]ouiSpan, len(t.keys))
		for j, k := range t.keys {
			name := m[k]
			s, ok := offsets[name]
			if !ok {
				s = ouiSpan{off: uint32(names.Len()), n: uint32(len(name))}
				names.WriteString(name)
				offsets[name] = s
			}
			t.spans[j] = s
		}
	}
	o.names = names.String()
	return o
}
