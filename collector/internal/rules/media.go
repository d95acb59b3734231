package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// MediaInput is one media event with everything the media rules judge it
// against.
type MediaInput struct {
	AgentID  string
	Hostname string // "" when not known; titles then name the agent id
	Seq      uint64 // the record's seq, for the evidence link
	At       time.Time
	Event    wire.MediaEvent
	// Entry is the medium's register entry, nil when the register lacks it.
	// The caller looks it up with MediaIndex.Find: the exact key first, then
	// the model-wide "vid:pid:" entry.
	Entry *model.MediaEntry
	// Policy is the media policy in force (marking by label or file).
	Policy wire.MediaPolicy
	// Zone is the host's zone; Level "" when not known.
	Zone zone.Zone
}

// Conditions of an unmarked-media finding, as its "conditions" fact lists them.
const (
	CondUnmarked           = "unmarked"                      // the policy asks for a marking, no volume has one
	CondUnencryptedZone    = "unencrypted-in-sensitive-zone" // a volume is not encrypted on a host in a sensitive zone
	CondUnencryptedRequire = "unencrypted-but-required"      // a volume is not encrypted, the register requires it
)

// Facts of the media rules, the keys of Finding.Facts (the UI translates
// them as fact.<key>). Empty values are left out.
//
//	action               the event: present, add, mount …
//	class, device, bus   the medium's class (usb-storage, memory-card, optical, loop), kernel or Windows name, bus
//	vid, pid, serial     its identity; a loop device's serial is its backing file
//	vendor, product      as the device names itself
//	labels, fs_types     its volumes' labels and filesystems, comma separated
//	volumes              per volume, separated by "; ": name, filesystem, label, encryption, marking
//	encrypted            yes, no or unknown for every volume, else per volume ("sdb1: yes, sdb2: no")
//	marking              the markings found ("sdb1: label NK-0042"), "none", or "not checked yet"
//	decision             the agent's decision: "block by media.default.block (mode block, enforced)"
//	decision_error       why enforcing a block failed
//	mount_point, user    on mount and unmount: where, and the session user where known
//	unknown              what the agent could not learn about the device
//	zone                 the host's zone, "helse (sensitive)"
//	registered           yes or no
//	owner_unit, classification, marking_id, encryption_required   from the register entry
//	conditions           unmarked-media only: which of the Cond… held, comma separated
//	unencrypted_volumes  unmarked-media only: the volumes that are not encrypted, "sdb1 (no)"
const (
	FactConditions         = "conditions"
	FactUnencryptedVolumes = "unencrypted_volumes"
)

// maxFact bounds a fact's value and each agent-supplied part of a title.
const maxFact = 512

// MediaIndex finds media in the media register.
type MediaIndex struct {
	byKey map[string]*model.MediaEntry
}

// NewMediaIndex indexes register entries by key.
func NewMediaIndex(entries []model.MediaEntry) MediaIndex {
	x := MediaIndex{byKey: make(map[string]*model.MediaEntry, len(entries))}
	for i := range entries {
		x.byKey[entries[i].Key()] = &entries[i]
	}
	return x
}

// Len returns how many entries the index holds.
func (x MediaIndex) Len() int { return len(x.byKey) }

// Find returns the register entry of a medium: the entry of its exact key,
// else the entry of its model ("vid:pid:", every serial), else nil. A medium
// with neither VID nor serial has no identity to register and is never found.
func (x MediaIndex) Find(d wire.MediaDevice) *model.MediaEntry {
	if d.VID == "" && d.Serial == "" {
		return nil
	}
	if e, ok := x.byKey[d.Key()]; ok {
		return e
	}
	if d.VID != "" {
		if e, ok := x.byKey[wire.MediaKey(d.VID, d.PID, "")]; ok {
			return e
		}
	}
	return nil
}

// MediaSubject is the subject of a medium's findings, stable across
// insertions and hosts: "media:" and its register key ("media:0781:5583:4C53…",
// "media:::/srv/img/stick.img" for a loop device). A medium with neither VID
// nor serial (an internal card reader's card, a SATA optical drive) cannot be
// told from another of its kind, so its subject is its class and device name
// on that host: "media:optical:sr0@<agent id>".
func MediaSubject(d wire.MediaDevice, agentID string) string {
	if d.VID == "" && d.Serial == "" {
		return "media:" + d.Class + ":" + d.Name + "@" + agentID
	}
	return "media:" + d.Key()
}

// Media judges one media event with the rules unknown-media and
// unmarked-media, and returns their findings (none, one or both).
//
// unknown-media fires when a medium the register lacks is present or
// arrives (actions present and add; not on remove, mount or unmount), also
// when the agent blocked it.
//
// unmarked-media fires on present, add and mount when any of these holds:
// the policy names a marking (label pattern or marker file), the medium has
// volumes, every volume was checked for it and none carries one (while a
// volume is not yet checked, nothing fires: its mount event will say); the
// host is in a sensitive zone and a volume is not known to be encrypted; the
// register entry requires encryption and a volume is not known to be
// encrypted. Its findings involve personal data, which starts the breach
// clock. A medium the agent blocked, with the block in effect, never reached
// the system and never fires it.
func Media(in MediaInput, cfg Config) []model.Finding {
	var out []model.Finding
	if f, ok := unknownMedia(in, cfg); ok {
		out = append(out, f)
	}
	if f, ok := unmarkedMedia(in, cfg); ok {
		out = append(out, f)
	}
	return out
}

func unknownMedia(in MediaInput, cfg Config) (model.Finding, bool) {
	if !cfg.Enabled(UnknownMedia) || in.Entry != nil {
		return model.Finding{}, false
	}
	if a := in.Event.Action; a != wire.MediaPresent && a != wire.MediaAdd {
		return model.Finding{}, false
	}
	f := in.finding(cfg, UnknownMedia)
	f.Title = fmt.Sprintf("Unknown removable medium %s on %s", describe(in.Event.Device), in.host())
	return f, true
}

func unmarkedMedia(in MediaInput, cfg Config) (model.Finding, bool) {
	if !cfg.Enabled(UnmarkedMedia) {
		return model.Finding{}, false
	}
	switch in.Event.Action {
	case wire.MediaPresent, wire.MediaAdd, wire.MediaMount:
	default:
		return model.Finding{}, false
	}
	if d := in.Event.Decision; d != nil && d.Verdict == wire.VerdictBlock && d.Enforced {
		return model.Finding{}, false
	}
	vols := in.Event.Device.Volumes
	var unenc []string
	for _, v := range vols {
		if v.Encrypted != "yes" {
			unenc = append(unenc, fmt.Sprintf("%s (%s)", v.Name, cmp.Or(v.Encrypted, "unknown")))
		}
	}
	var conds, why []string
	if markingAsked(in.Policy) && unmarked(vols) {
		conds, why = append(conds, CondUnmarked), append(why, "not marked")
	}
	if in.Zone.Sensitive() && len(unenc) > 0 {
		conds = append(conds, CondUnencryptedZone)
		why = append(why, "unencrypted in sensitive zone "+clip(in.Zone.Name))
	}
	if in.Entry != nil && in.Entry.EncryptionRequired && len(unenc) > 0 {
		conds = append(conds, CondUnencryptedRequire)
		why = append(why, "unencrypted though the register requires encryption")
	}
	if len(conds) == 0 {
		return model.Finding{}, false
	}
	f := in.finding(cfg, UnmarkedMedia)
	f.PersonalData = true
	f.Facts[FactConditions] = strings.Join(conds, ", ")
	if slices.Contains(conds, CondUnencryptedZone) || slices.Contains(conds, CondUnencryptedRequire) {
		f.Facts[FactUnencryptedVolumes] = clip(strings.Join(unenc, ", "))
	}
	if len(conds) == 1 && conds[0] == CondUnmarked {
		f.Title = fmt.Sprintf("Unmarked removable medium %s on %s", describe(in.Event.Device), in.host())
	} else {
		f.Title = fmt.Sprintf("Removable medium %s on %s: %s", describe(in.Event.Device), in.host(), strings.Join(why, "; "))
	}
	return f, true
}

// markingAsked reports whether the policy names a marking.
func markingAsked(p wire.MediaPolicy) bool { return p.LabelPattern != "" || p.MarkerFile != "" }

// unmarked reports whether the medium has volumes, all checked for a
// marking, and none carries one.
func unmarked(vols []wire.MediaVolume) bool {
	if len(vols) == 0 {
		return false
	}
	for _, v := range vols {
		if v.Marking != nil || !v.MarkingChecked {
			return false
		}
	}
	return true
}

// host names the host in titles.
func (in MediaInput) host() string {
	if in.Hostname != "" {
		return clip(in.Hostname)
	}
	return in.AgentID
}

// finding starts a finding of rule about the input's medium, with the facts
// both media rules share.
func (in MediaInput) finding(cfg Config, rule string) model.Finding {
	f := cfg.finding(rule)
	f.Subject = MediaSubject(in.Event.Device, in.AgentID)
	f.AgentID = in.AgentID
	f.At = in.At
	f.Facts = in.facts()
	f.Evidence = []model.EvidenceRef{{AgentID: in.AgentID, Seq: in.Seq, Kind: string(wire.KindMedia)}}
	return f
}

// facts describes the event, the medium, the decision and the register
// entry (see the Fact… keys).
func (in MediaInput) facts() map[string]string {
	d := in.Event.Device
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = clip(v)
		}
	}
	set("action", in.Event.Action)
	set("class", d.Class)
	set("device", d.Name)
	set("bus", d.Bus)
	set("vid", d.VID)
	set("pid", d.PID)
	set("serial", d.Serial)
	set("vendor", d.Vendor)
	set("product", d.Product)
	set("unknown", strings.Join(d.Unknown, "; "))

	var labels, fsTypes, lines, enc, marks []string
	checked := true
	for _, v := range d.Volumes {
		if v.Label != "" {
			labels = append(labels, v.Label)
		}
		if v.FSType != "" && !slices.Contains(fsTypes, v.FSType) {
			fsTypes = append(fsTypes, v.FSType)
		}
		e := cmp.Or(v.Encrypted, "unknown")
		enc = append(enc, e)
		line := v.Name + " " + cmp.Or(v.FSType, "unknown filesystem")
		if v.Label != "" {
			line += fmt.Sprintf(" %q", v.Label)
		}
		line += " encrypted=" + e
		if v.Encryption != "" {
			line += " (" + v.Encryption + ")"
		}
		switch {
		case v.Marking != nil:
			mk := v.Name + ": " + v.Marking.Source + " " + v.Marking.ID
			if v.Marking.Classification != "" {
				mk += " (" + v.Marking.Classification + ")"
			}
			marks = append(marks, mk)
			line += " marking=" + v.Marking.Source + ":" + v.Marking.ID
		case v.MarkingChecked:
			line += " marking=none"
		default:
			checked = false
			line += " marking=unchecked"
		}
		lines = append(lines, line)
	}
	set("labels", strings.Join(labels, ", "))
	set("fs_types", strings.Join(fsTypes, ", "))
	set("volumes", strings.Join(lines, "; "))
	if len(enc) > 0 {
		if len(slices.Compact(slices.Clone(enc))) == 1 {
			set("encrypted", enc[0])
		} else {
			per := make([]string, len(enc))
			for i, v := range d.Volumes {
				per[i] = v.Name + ": " + enc[i]
			}
			set("encrypted", strings.Join(per, ", "))
		}
		switch {
		case len(marks) > 0:
			set("marking", strings.Join(marks, ", "))
		case checked:
			m["marking"] = "none"
		default:
			m["marking"] = "not checked yet"
		}
	}

	if dec := in.Event.Decision; dec != nil {
		s := dec.Verdict + " by " + dec.Rule + " (mode " + dec.Mode
		if dec.Verdict == wire.VerdictBlock {
			if dec.Enforced {
				s += ", enforced"
			} else {
				s += ", not enforced"
			}
		}
		set("decision", s+")")
		set("decision_error", dec.Error)
	}
	if mi := in.Event.Mount; mi != nil {
		set("mount_point", mi.Point)
		set("user", mi.User)
	}
	set("zone", in.Zone.String())
	if e := in.Entry; e != nil {
		m["registered"] = "yes"
		set("owner_unit", e.OwnerUnit)
		set("classification", e.Classification)
		set("marking_id", e.MarkingID)
		if e.EncryptionRequired {
			m["encryption_required"] = "yes"
		}
	} else {
		m["registered"] = "no"
	}
	return m
}

// describe names a medium in a title: `0781:5583 "SanDisk Ultra Fit"
// (serial 4C53…)`, or by class and device name without a VID.
func describe(d wire.MediaDevice) string {
	var b strings.Builder
	if d.VID != "" {
		b.WriteString(d.VID + ":" + d.PID)
	} else {
		b.WriteString(cmp.Or(d.Class, "medium"))
	}
	name := strings.TrimSpace(d.Vendor + " " + d.Product)
	if name == "" {
		name = d.Name
	}
	if name != "" {
		fmt.Fprintf(&b, " %q", clip(name))
	}
	if d.Serial != "" {
		what := "serial"
		if d.Class == wire.MediaLoop {
			what = "image"
		}
		fmt.Fprintf(&b, " (%s %s)", what, clip(d.Serial))
	}
	return b.String()
}

// clip bounds an agent-supplied string, cutting at a rune boundary.
func clip(s string) string {
	if len(s) <= maxFact {
		return s
	}
	n := maxFact
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
