package wire

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// Inventory is the body of an inventory record: a full snapshot of a machine
// (Full, Base empty) or a delta against the snapshot whose hash is Base. Hash
// is always the hash of the complete snapshot after the record is applied.
type Inventory struct {
	Hash     string    `cbor:"1,keyasint" json:"hash"`
	Base     string    `cbor:"2,keyasint,omitempty" json:"base,omitempty"`
	Full     bool      `cbor:"3,keyasint" json:"full"`
	Host     *Host     `cbor:"4,keyasint,omitempty" json:"host,omitempty"`
	Hardware *Hardware `cbor:"5,keyasint,omitempty" json:"hardware,omitempty"`
	Software []Package `cbor:"6,keyasint,omitempty" json:"software,omitempty"`
	Services []Service `cbor:"7,keyasint,omitempty" json:"services,omitempty"`
	Users    []User    `cbor:"8,keyasint,omitempty" json:"users,omitempty"`
	Groups   []Group   `cbor:"9,keyasint,omitempty" json:"groups,omitempty"`
	Sessions []Session `cbor:"10,keyasint,omitempty" json:"sessions,omitempty"`
	// Warnings are problems met while collecting (a corrupt file, named with
	// its line); the rest of the inventory still arrived. Not hashed.
	Warnings []string `cbor:"11,keyasint,omitempty" json:"warnings,omitempty"`
	// Delta only: the sections carried whole (replacing the base's), and the
	// software that came and went.
	Changed         []string  `cbor:"12,keyasint,omitempty" json:"changed,omitempty"`
	SoftwareAdded   []Package `cbor:"13,keyasint,omitempty" json:"software_added,omitempty"`
	SoftwareRemoved []Package `cbor:"14,keyasint,omitempty" json:"software_removed,omitempty"`
}

// Inventory sections, as named in Changed and by `inventory --section`.
const (
	SectionHost     = "host"
	SectionHardware = "hardware"
	SectionSoftware = "software"
	SectionServices = "services"
	SectionUsers    = "users"
	SectionGroups   = "groups"
	SectionSessions = "sessions"
)

// Sections lists every section in order.
var Sections = []string{SectionHost, SectionHardware, SectionSoftware, SectionServices, SectionUsers, SectionGroups, SectionSessions}

// Hardware is what the machine is built of.
type Hardware struct {
	System System      `cbor:"1,keyasint" json:"system"`
	Disks  []Disk      `cbor:"2,keyasint,omitempty" json:"disks,omitempty"`
	USB    []USBDevice `cbor:"3,keyasint,omitempty" json:"usb,omitempty"`
}

// System is the DMI/SMBIOS identity of the machine.
type System struct {
	Vendor      string `cbor:"1,keyasint,omitempty" json:"vendor,omitempty"`
	Model       string `cbor:"2,keyasint,omitempty" json:"model,omitempty"`
	Serial      string `cbor:"3,keyasint,omitempty" json:"serial,omitempty"`
	UUID        string `cbor:"4,keyasint,omitempty" json:"uuid,omitempty"`    // lower case
	Chassis     string `cbor:"5,keyasint,omitempty" json:"chassis,omitempty"` // desktop, laptop, server, vm …
	AssetTag    string `cbor:"6,keyasint,omitempty" json:"asset_tag,omitempty"`
	BIOSVendor  string `cbor:"7,keyasint,omitempty" json:"bios_vendor,omitempty"`
	BIOSVersion string `cbor:"8,keyasint,omitempty" json:"bios_version,omitempty"`
	BoardSerial string `cbor:"9,keyasint,omitempty" json:"board_serial,omitempty"`
}

// Disk is a block device with its partitions.
type Disk struct {
	Name       string      `cbor:"1,keyasint" json:"name"` // sda, nvme0n1, PhysicalDrive0
	Model      string      `cbor:"2,keyasint,omitempty" json:"model,omitempty"`
	Serial     string      `cbor:"3,keyasint,omitempty" json:"serial,omitempty"`
	SizeBytes  uint64      `cbor:"4,keyasint" json:"size_bytes"`
	Bus        string      `cbor:"5,keyasint,omitempty" json:"bus,omitempty"` // usb, sata, nvme, scsi, virtio, mmc …
	Removable  bool        `cbor:"6,keyasint,omitempty" json:"removable,omitempty"`
	Partitions []Partition `cbor:"7,keyasint,omitempty" json:"partitions,omitempty"`
}

// Partition is a partition (or a whole-disk file system) with what it holds.
type Partition struct {
	Name       string `cbor:"1,keyasint" json:"name"`
	SizeBytes  uint64 `cbor:"2,keyasint" json:"size_bytes"`
	FSType     string `cbor:"3,keyasint,omitempty" json:"fs_type,omitempty"`
	Label      string `cbor:"4,keyasint,omitempty" json:"label,omitempty"`
	UUID       string `cbor:"5,keyasint,omitempty" json:"uuid,omitempty"`
	Mountpoint string `cbor:"6,keyasint,omitempty" json:"mountpoint,omitempty"`
	// Encrypted reports whether the volume is encrypted at rest; Encryption
	// names how (luks1, luks2, bitlocker) and is "unknown" when it cannot be told.
	Encrypted  bool   `cbor:"7,keyasint,omitempty" json:"encrypted,omitempty"`
	Encryption string `cbor:"8,keyasint,omitempty" json:"encryption,omitempty"`
}

// USBDevice is a device attached to a USB bus.
type USBDevice struct {
	Path    string `cbor:"1,keyasint" json:"path"` // bus topology: 1-1.2 (Linux), instance id (Windows)
	VID     string `cbor:"2,keyasint" json:"vid"`  // 4 lower-case hex digits
	PID     string `cbor:"3,keyasint" json:"pid"`
	Vendor  string `cbor:"4,keyasint,omitempty" json:"vendor,omitempty"`
	Product string `cbor:"5,keyasint,omitempty" json:"product,omitempty"`
	Serial  string `cbor:"6,keyasint,omitempty" json:"serial,omitempty"`
	Class   string `cbor:"7,keyasint,omitempty" json:"class,omitempty"` // mass-storage, hid, hub …
}

// Package is one installed piece of software.
type Package struct {
	Name        string `cbor:"1,keyasint" json:"name"`
	Version     string `cbor:"2,keyasint" json:"version"`
	Arch        string `cbor:"3,keyasint,omitempty" json:"arch,omitempty"`
	Source      string `cbor:"4,keyasint" json:"source"` // dpkg, rpm, windows
	Publisher   string `cbor:"5,keyasint,omitempty" json:"publisher,omitempty"`
	InstallDate int64  `cbor:"6,keyasint,omitempty" json:"install_date,omitempty"` // Unix seconds
	Scope       string `cbor:"7,keyasint,omitempty" json:"scope,omitempty"`        // "" machine-wide, else the user (SID)
}

// Key identifies a package within a snapshot: an upgrade is a removal and an
// addition.
func (p Package) Key() string {
	return p.Source + "\x00" + p.Scope + "\x00" + p.Name + "\x00" + p.Arch + "\x00" + p.Version
}

// Service is a system service.
type Service struct {
	Name      string `cbor:"1,keyasint" json:"name"`
	Display   string `cbor:"2,keyasint,omitempty" json:"display,omitempty"`
	State     string `cbor:"3,keyasint" json:"state"`                          // running, stopped, failed …
	StartMode string `cbor:"4,keyasint,omitempty" json:"start_mode,omitempty"` // auto, manual, disabled, static …
	Account   string `cbor:"5,keyasint,omitempty" json:"account,omitempty"`    // the account it runs as, where known
}

// User is a local account.
type User struct {
	Name     string `cbor:"1,keyasint" json:"name"`
	ID       string `cbor:"2,keyasint" json:"id"` // uid, or SID on Windows
	FullName string `cbor:"3,keyasint,omitempty" json:"full_name,omitempty"`
	Home     string `cbor:"4,keyasint,omitempty" json:"home,omitempty"`
	Shell    string `cbor:"5,keyasint,omitempty" json:"shell,omitempty"`
	Disabled bool   `cbor:"6,keyasint,omitempty" json:"disabled,omitempty"`
	System   bool   `cbor:"7,keyasint,omitempty" json:"system,omitempty"` // a service account, not a person
	Admin    bool   `cbor:"8,keyasint,omitempty" json:"admin,omitempty"`  // member of sudo/wheel/Administrators
}

// Group is a local group with its members.
type Group struct {
	Name    string   `cbor:"1,keyasint" json:"name"`
	ID      string   `cbor:"2,keyasint" json:"id"`
	Members []string `cbor:"3,keyasint,omitempty" json:"members,omitempty"`
}

// Session is a logged-on user.
type Session struct {
	User    string `cbor:"1,keyasint" json:"user"`
	ID      string `cbor:"2,keyasint,omitempty" json:"id,omitempty"`     // tty, or Windows session id
	Kind    string `cbor:"3,keyasint,omitempty" json:"kind,omitempty"`   // console, ssh, rdp, …
	Remote  string `cbor:"4,keyasint,omitempty" json:"remote,omitempty"` // client address or name
	Started int64  `cbor:"5,keyasint,omitempty" json:"started,omitempty"`
}

// Normalize sorts every list of a snapshot into its canonical order, so that the
// same machine gives the same bytes and the same hash.
func (inv *Inventory) Normalize() {
	if inv.Hardware != nil {
		slices.SortFunc(inv.Hardware.Disks, func(a, b Disk) int { return cmp.Compare(a.Name, b.Name) })
		for i := range inv.Hardware.Disks {
			slices.SortFunc(inv.Hardware.Disks[i].Partitions, func(a, b Partition) int { return cmp.Compare(a.Name, b.Name) })
		}
		slices.SortFunc(inv.Hardware.USB, func(a, b USBDevice) int { return cmp.Compare(a.Path, b.Path) })
	}
	slices.SortFunc(inv.Software, func(a, b Package) int { return cmp.Compare(a.Key(), b.Key()) })
	// The same program may be listed twice (two registry views of one install);
	// software is a set keyed by Key, so keep one of each.
	inv.Software = slices.CompactFunc(inv.Software, func(a, b Package) bool { return a.Key() == b.Key() })
	slices.SortFunc(inv.Services, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(inv.Users, func(a, b User) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(inv.Groups, func(a, b Group) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	for i := range inv.Groups {
		slices.Sort(inv.Groups[i].Members)
	}
	slices.SortFunc(inv.Sessions, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Started, b.Started))
	})
}

// InventoryHash returns the hex SHA-256 of a full snapshot's deterministic CBOR,
// with the envelope, the warnings and volatile facts left out, so that an
// unchanged machine keeps its hash from round to round and across restarts.
// Host.BootTime is volatile: it changes at every boot and, where it is derived
// from the uptime, jitters by a second between readings (hellos report boots).
func InventoryHash(inv Inventory) (string, error) {
	s := inv.sectionsOnly()
	if s.Host != nil {
		h := *s.Host
		h.BootTime = 0
		s.Host = &h
	}
	b, err := Marshal(s)
	if err != nil {
		return "", fmt.Errorf("hash inventory: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// sectionsOnly returns the snapshot's content without envelope, delta fields
// or warnings.
func (inv Inventory) sectionsOnly() Inventory {
	return Inventory{Host: inv.Host, Hardware: inv.Hardware, Software: inv.Software, Services: inv.Services,
		Users: inv.Users, Groups: inv.Groups, Sessions: inv.Sessions}
}

// Diff returns the delta that turns the full snapshot old into the full
// snapshot cur; both must carry their hashes. Sections other than software are
// carried whole when they changed; software as packages added and removed.
func Diff(old, cur Inventory) (Inventory, error) {
	d := Inventory{Hash: cur.Hash, Base: old.Hash, Warnings: cur.Warnings}
	same := func(a, b any) (bool, error) {
		x, err := Marshal(a)
		if err != nil {
			return false, err
		}
		y, err := Marshal(b)
		if err != nil {
			return false, err
		}
		return string(x) == string(y), nil
	}
	for _, sec := range []struct {
		name string
		a, b any
		set  func()
	}{
		{SectionHost, old.Host, cur.Host, func() { d.Host = cur.Host }},
		{SectionHardware, old.Hardware, cur.Hardware, func() { d.Hardware = cur.Hardware }},
		{SectionServices, old.Services, cur.Services, func() { d.Services = cur.Services }},
		{SectionUsers, old.Users, cur.Users, func() { d.Users = cur.Users }},
		{SectionGroups, old.Groups, cur.Groups, func() { d.Groups = cur.Groups }},
		{SectionSessions, old.Sessions, cur.Sessions, func() { d.Sessions = cur.Sessions }},
	} {
		eq, err := same(sec.a, sec.b)
		if err != nil {
			return Inventory{}, fmt.Errorf("diff %s: %w", sec.name, err)
		}
		if !eq {
			d.Changed = append(d.Changed, sec.name)
			sec.set()
		}
	}
	had := make(map[string]bool, len(old.Software))
	for _, p := range old.Software {
		had[p.Key()] = true
	}
	has := make(map[string]bool, len(cur.Software))
	for _, p := range cur.Software {
		has[p.Key()] = true
		if !had[p.Key()] {
			d.SoftwareAdded = append(d.SoftwareAdded, p)
		}
	}
	for _, p := range old.Software {
		if !has[p.Key()] {
			d.SoftwareRemoved = append(d.SoftwareRemoved, Package{Name: p.Name, Version: p.Version, Arch: p.Arch, Source: p.Source, Scope: p.Scope})
		}
	}
	return d, nil
}

// Apply applies a delta to the full snapshot base and returns the new full
// snapshot. It fails when the delta is for another base or the result does
// not hash to the delta's Hash; the caller then asks for a full snapshot.
func Apply(base, delta Inventory) (Inventory, error) {
	if delta.Full || delta.Base == "" {
		return Inventory{}, fmt.Errorf("apply: record is not a delta")
	}
	if delta.Base != base.Hash {
		return Inventory{}, fmt.Errorf("apply: delta is against %.12s, held snapshot is %.12s", delta.Base, base.Hash)
	}
	out := base.sectionsOnly()
	for _, name := range delta.Changed {
		switch name {
		case SectionHost:
			out.Host = delta.Host
		case SectionHardware:
			out.Hardware = delta.Hardware
		case SectionServices:
			out.Services = delta.Services
		case SectionUsers:
			out.Users = delta.Users
		case SectionGroups:
			out.Groups = delta.Groups
		case SectionSessions:
			out.Sessions = delta.Sessions
		default:
			return Inventory{}, fmt.Errorf("apply: unknown section %q", name)
		}
	}
	if len(delta.SoftwareAdded)+len(delta.SoftwareRemoved) > 0 {
		gone := make(map[string]bool, len(delta.SoftwareRemoved))
		for _, p := range delta.SoftwareRemoved {
			gone[p.Key()] = true
		}
		sw := make([]Package, 0, len(out.Software)+len(delta.SoftwareAdded))
		for _, p := range out.Software {
			if !gone[p.Key()] {
				sw = append(sw, p)
			}
		}
		out.Software = append(sw, delta.SoftwareAdded...)
	}
	out.Normalize()
	h, err := InventoryHash(out)
	if err != nil {
		return Inventory{}, err
	}
	if h != delta.Hash {
		return Inventory{}, fmt.Errorf("apply: result hashes to %.12s, delta says %.12s", h, delta.Hash)
	}
	out.Hash, out.Full, out.Warnings = h, true, delta.Warnings
	return out, nil
}
