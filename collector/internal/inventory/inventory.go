// Package inventory is the collector's inventory logic that every store
// driver shares: it applies full snapshots and deltas to an agent's current
// inventory (State.Step), turns two snapshots into history rows (Changes),
// matches package names (MatchName, NameGlob) and orders versions by each
// packaging system's own rules (CompareVersions). It does no I/O; the store
// persists what it computes, in the ingest transaction.
package inventory

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// State is an agent's inventory as a store holds it between batches.
type State struct {
	Current *wire.Inventory // the full snapshot held; nil while none is
	Seq     uint64          // seq of the record Current came from
	At      time.Time       // observed time of that record
	// WantFull reports whether the agent is asked for a full snapshot: a
	// delta could not be applied. The next full snapshot clears it.
	WantFull bool
}

// ErrNoBase is returned by Step for a delta while no snapshot is held.
var ErrNoBase = errors.New("no inventory snapshot held to apply the delta to")

// Step applies one newly stored inventory record: a full snapshot replaces
// the current one, a delta is applied to it with wire.Apply. It returns the
// history rows the record brings (AgentID left empty for the caller). A
// record older than the current snapshot is ignored. A delta that cannot be
// applied (no snapshot held, another base, a result that does not hash to the
// delta's hash) leaves the snapshot as it was, sets WantFull and is returned
// as the error; that is no storage failure, and the caller carries on.
//
// Step may reorder the record's lists into their canonical order.
func (s *State) Step(rec model.InventoryRecord) ([]model.InventoryChange, error) {
	if s.Current != nil && rec.Seq <= s.Seq {
		return nil, nil
	}
	inv := rec.Inv
	var next wire.Inventory
	if inv.Full || inv.Base == "" {
		inv.Normalize()
		if inv.Hash == "" {
			h, err := wire.InventoryHash(inv)
			if err != nil {
				return nil, err
			}
			inv.Hash = h
		}
		inv.Full, inv.Base, inv.Changed, inv.SoftwareAdded, inv.SoftwareRemoved = true, "", nil, nil, nil
		next = inv
		s.WantFull = false
	} else {
		if s.Current == nil {
			s.WantFull = true
			return nil, fmt.Errorf("inventory delta %d against %.12s: %w", rec.Seq, inv.Base, ErrNoBase)
		}
		n, err := wire.Apply(*s.Current, inv)
		if err != nil {
			s.WantFull = true
			return nil, fmt.Errorf("inventory delta %d: %w", rec.Seq, err)
		}
		next = n
	}
	var changes []model.InventoryChange
	if s.Current == nil {
		changes = []model.InventoryChange{{At: rec.At, Seq: rec.Seq, Section: model.ChangeSectionInventory,
			Op: model.ChangeAdded, Key: next.Hash}}
	} else {
		changes = Changes(*s.Current, next, rec.At, rec.Seq)
	}
	s.Current, s.Seq, s.At = &next, rec.Seq, rec.At
	return changes, nil
}

// SameSoftware reports whether two snapshots (either may be nil) hold the
// same packages.
func SameSoftware(a, b *wire.Inventory) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Software, b.Software)
}

// Changes lists what differs between the full snapshots old and cur, one row
// per item: per host and hardware field group changed; per disk, USB device,
// package, service, user and group added, removed or changed. A package whose
// only copy (same source, scope, name and architecture) changed version is one
// "changed" row. Sessions and volatile facts (boot time) make no rows. Rows
// come in section order, then by key.
func Changes(old, cur wire.Inventory, at time.Time, seq uint64) []model.InventoryChange {
	var out []model.InventoryChange
	add := func(section, key string, before, after string) {
		if before == after {
			return
		}
		op := model.ChangeChanged
		switch {
		case before == "":
			op = model.ChangeAdded
		case after == "":
			op = model.ChangeRemoved
		}
		out = append(out, model.InventoryChange{At: at, Seq: seq, Section: section, Op: op, Key: key, Before: before, After: after})
	}

	og, cg := hostGroups(old.Host), hostGroups(cur.Host)
	for _, g := range hostGroupNames {
		add(model.ChangeSectionHost, g, og[g], cg[g])
	}
	var oh, ch wire.Hardware
	if old.Hardware != nil {
		oh = *old.Hardware
	}
	if cur.Hardware != nil {
		ch = *cur.Hardware
	}
	og, cg = hardwareGroups(old.Hardware), hardwareGroups(cur.Hardware)
	for _, g := range hardwareGroupNames {
		add(model.ChangeSectionHardware, g, og[g], cg[g])
	}
	diffItems(model.ChangeSectionDisks, oh.Disks, ch.Disks, func(d wire.Disk) string { return d.Name }, add)
	diffItems(model.ChangeSectionUSB, oh.USB, ch.USB, func(u wire.USBDevice) string { return u.Path }, add)
	softwareChanges(old.Software, cur.Software, add)
	diffItems(model.ChangeSectionServices, old.Services, cur.Services, func(s wire.Service) string { return s.Name }, add)
	diffItems(model.ChangeSectionUsers, old.Users, cur.Users, func(u wire.User) string { return u.Name }, add)
	diffItems(model.ChangeSectionGroups, old.Groups, cur.Groups, func(g wire.Group) string { return g.Name }, add)
	return out
}

// jsonOf encodes v for a history row; "" for nil.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return ""
	}
	return string(b)
}

var hostGroupNames = []string{"identity", "os", "cpu", "memory", "interfaces"}

// hostGroups splits host facts into the field groups history tracks, as JSON;
// the boot time is left out.
func hostGroups(h *wire.Host) map[string]string {
	if h == nil {
		return nil
	}
	return map[string]string{
		"identity": jsonOf(struct {
			Hostname  string `json:"hostname"`
			Domain    string `json:"domain,omitempty"`
			MachineID string `json:"machine_id,omitempty"`
		}{h.Hostname, h.Domain, h.MachineID}),
		"os": jsonOf(struct {
			OS              string `json:"os"`
			Platform        string `json:"platform,omitempty"`
			PlatformVersion string `json:"platform_version,omitempty"`
			Kernel          string `json:"kernel,omitempty"`
			Arch            string `json:"arch,omitempty"`
			Virtualization  string `json:"virtualization,omitempty"`
		}{h.OS, h.Platform, h.PlatformVersion, h.Kernel, h.Arch, h.Virtualization}),
		"cpu": jsonOf(h.CPU),
		"memory": jsonOf(struct {
			MemoryBytes uint64 `json:"memory_bytes"`
		}{h.MemoryBytes}),
		"interfaces": jsonOf(struct {
			Interfaces []wire.Interface `json:"interfaces"`
		}{h.Interfaces}),
	}
}

var hardwareGroupNames = []string{"system", "bios"}

// hardwareGroups splits the machine's identity into the field groups history
// tracks, as JSON.
func hardwareGroups(hw *wire.Hardware) map[string]string {
	if hw == nil {
		return nil
	}
	s := hw.System
	return map[string]string{
		"system": jsonOf(struct {
			Vendor      string `json:"vendor,omitempty"`
			Model       string `json:"model,omitempty"`
			Serial      string `json:"serial,omitempty"`
			UUID        string `json:"uuid,omitempty"`
			Chassis     string `json:"chassis,omitempty"`
			AssetTag    string `json:"asset_tag,omitempty"`
			BoardSerial string `json:"board_serial,omitempty"`
		}{s.Vendor, s.Model, s.Serial, s.UUID, s.Chassis, s.AssetTag, s.BoardSerial}),
		"bios": jsonOf(struct {
			Vendor  string `json:"bios_vendor,omitempty"`
			Version string `json:"bios_version,omitempty"`
		}{s.BIOSVendor, s.BIOSVersion}),
	}
}

// diffItems adds a row per item, named by key, that is only in old
// (removed), only in cur (added) or in both with other content (changed).
// Items are encoded only when they differ.
func diffItems[T any](section string, old, cur []T, key func(T) string, add func(section, key, before, after string)) {
	before := make(map[string]T, len(old))
	for _, x := range old {
		before[key(x)] = x
	}
	after := make(map[string]T, len(cur))
	for _, x := range cur {
		after[key(x)] = x
	}
	keys := slices.Collect(maps.Keys(before))
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, inOld := before[k]
		a, inCur := after[k]
		switch {
		case !inOld:
			add(section, k, "", jsonOf(a))
		case !inCur:
			add(section, k, jsonOf(b), "")
		case !reflect.DeepEqual(a, b):
			add(section, k, jsonOf(b), jsonOf(a))
		}
	}
}

// softwareChanges adds the package rows: by wire.Package.Key, with an
// upgrade of a package's only copy joined into one changed row.
func softwareChanges(old, cur []wire.Package, add func(section, key, before, after string)) {
	if slices.Equal(old, cur) {
		return
	}
	type ident struct{ source, scope, name, arch string }
	id := func(p wire.Package) ident { return ident{p.Source, p.Scope, p.Name, p.Arch} }
	olds := map[ident][]wire.Package{}
	for _, p := range old {
		olds[id(p)] = append(olds[id(p)], p)
	}
	curs := map[ident][]wire.Package{}
	for _, p := range cur {
		curs[id(p)] = append(curs[id(p)], p)
	}
	var ids []ident
	for k, o := range olds {
		if !slices.Equal(o, curs[k]) {
			ids = append(ids, k)
		}
	}
	for k := range curs {
		if _, ok := olds[k]; !ok {
			ids = append(ids, k)
		}
	}
	slices.SortFunc(ids, func(a, b ident) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.source, b.source),
			strings.Compare(a.scope, b.scope), strings.Compare(a.arch, b.arch))
	})
	for _, k := range ids {
		o, c := olds[k], curs[k]
		if len(o) == 1 && len(c) == 1 {
			add(model.ChangeSectionSoftware, k.name, jsonOf(o[0]), jsonOf(c[0]))
			continue
		}
		diffItems(model.ChangeSectionSoftware, o, c, func(p wire.Package) string { return p.Key() }, func(section, _, before, after string) {
			add(section, k.name, before, after)
		})
	}
}

// NameGlob turns a SoftwareQuery name into a pattern for SQL GLOB against
// FoldName(name): * stays the wildcard, a name without one matches as a
// substring, and GLOB's other special characters match themselves.
func NameGlob(q string) string {
	q = FoldName(q)
	var b strings.Builder
	if !strings.Contains(q, "*") {
		b.WriteByte('*')
	}
	for _, r := range q {
		switch r {
		case '?':
			b.WriteString("[?]")
		case '[':
			b.WriteString("[[]")
		default:
			b.WriteRune(r)
		}
	}
	if !strings.Contains(q, "*") {
		b.WriteByte('*')
	}
	return b.String()
}

// FoldName is the case-folded form of a package name that searches compare.
func FoldName(name string) string { return strings.ToLower(name) }

// MatchName reports whether a package name matches a SoftwareQuery name, as
// NameGlob does in SQL.
func MatchName(q, name string) bool {
	q, name = FoldName(q), FoldName(name)
	if !strings.Contains(q, "*") {
		return strings.Contains(name, q)
	}
	parts := strings.Split(q, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}

// SortHits orders search hits by hostname, agent, name and then version, by
// each package's own version ordering.
func SortHits(hits []model.SoftwareHit) {
	slices.SortStableFunc(hits, func(a, b model.SoftwareHit) int {
		return cmp.Or(strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.AgentID, b.AgentID),
			strings.Compare(FoldName(a.Package.Name), FoldName(b.Package.Name)), strings.Compare(a.Package.Name, b.Package.Name),
			strings.Compare(a.Package.Source, b.Package.Source),
			CompareVersions(a.Package.Source, a.Package.Version, b.Package.Version))
	})
}
