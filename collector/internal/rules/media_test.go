package rules

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

var (
	at = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

	markingPolicy = wire.MediaPolicy{Mode: wire.MediaModeAudit, LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT"}

	sensitive = zone.Zone{Name: "helse", Level: zone.Sensitive}
	internal  = zone.Zone{Name: "kontor", Level: zone.Internal}
)

// stick is a SanDisk stick with one FAT volume, checked for a marking and
// carrying none.
func stick() wire.MediaDevice {
	return wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb", Bus: "usb", VID: "0781", PID: "5583",
		Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001", SizeBytes: 32 << 30,
		Volumes: []wire.MediaVolume{{Name: "sdb1", FSType: "vfat", Label: "PRIVATE", Encrypted: "no", MarkingChecked: true}}}
}

func marked(d wire.MediaDevice) wire.MediaDevice {
	d.Volumes = slices.Clone(d.Volumes)
	for i := range d.Volumes {
		d.Volumes[i].Label = "NK-0042"
		d.Volumes[i].Marking = &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"}
	}
	return d
}

func encrypted(d wire.MediaDevice) wire.MediaDevice {
	d.Volumes = slices.Clone(d.Volumes)
	for i := range d.Volumes {
		d.Volumes[i].Encrypted, d.Volumes[i].Encryption = "yes", "bitlocker"
	}
	return d
}

func unchecked(d wire.MediaDevice) wire.MediaDevice {
	d.Volumes = slices.Clone(d.Volumes)
	for i := range d.Volumes {
		d.Volumes[i].MarkingChecked = false
	}
	return d
}

func event(action string, d wire.MediaDevice) wire.MediaEvent {
	ev := wire.MediaEvent{Action: action, Device: d}
	if action == wire.MediaPresent || action == wire.MediaAdd {
		ev.Decision = &wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault, Mode: wire.MediaModeAudit}
	}
	if action == wire.MediaMount {
		ev.Mount = &wire.MediaMountInfo{Volume: "sdb1", Point: "/media/kari/NK-0042", FSType: "vfat", User: "kari"}
	}
	return ev
}

func blocked(ev wire.MediaEvent, enforced bool) wire.MediaEvent {
	ev.Decision = &wire.MediaDecision{Verdict: wire.VerdictBlock, Rule: wire.MediaRuleBlockDefault, Mode: wire.MediaModeBlock, Enforced: enforced}
	if !enforced {
		ev.Decision.Error = "authorized: permission denied"
	}
	return ev
}

func entry(vid, pid, serial string) *model.MediaEntry {
	return &model.MediaEntry{VID: vid, PID: pid, Serial: serial, MarkingID: "NK-0042", OwnerUnit: "helse", Classification: "fortrolig"}
}

func requireEncryption(e *model.MediaEntry) *model.MediaEntry {
	e.EncryptionRequired = true
	return e
}

func TestMedia(t *testing.T) {
	loop := wire.MediaDevice{Class: wire.MediaLoop, Name: "loop0", Bus: "loop", Serial: "/srv/img/stick.img",
		Volumes: []wire.MediaVolume{{Name: "loop0", FSType: "vfat", Label: "PRIVATE", Encrypted: "no", MarkingChecked: true}}}
	optical := wire.MediaDevice{Class: wire.MediaOptical, Name: "sr0"}
	noVolumes := stick()
	noVolumes.Volumes = nil
	twoVolumes := stick()
	twoVolumes.Volumes = append(twoVolumes.Volumes, wire.MediaVolume{Name: "sdb2", FSType: "ntfs", Encrypted: "yes",
		MarkingChecked: true, Marking: &wire.MediaMarking{Source: wire.MarkingFile, ID: "NK-0007", Classification: "intern"}})
	unknownEnc := encrypted(marked(stick()))
	unknownEnc.Volumes[0].Encrypted = "unknown"

	for _, c := range []struct {
		name   string
		ev     wire.MediaEvent
		entry  *model.MediaEntry
		policy wire.MediaPolicy
		zone   zone.Zone
		cfg    Config
		want   []string // rule names fired, in order
		// subject of every finding; "" for "media:0781:5583:4C530001"
		subject string
		// want the unmarked-media finding's conditions fact
		conds string
	}{
		// unknown-media
		{name: "unknown, unmarked stick arrives", ev: event(wire.MediaAdd, stick()), policy: markingPolicy,
			want: []string{UnknownMedia, UnmarkedMedia}, conds: CondUnmarked},
		{name: "unknown stick present at start", ev: event(wire.MediaPresent, marked(stick())), policy: markingPolicy,
			want: []string{UnknownMedia}},
		{name: "unknown stick, no marking asked", ev: event(wire.MediaAdd, stick()),
			want: []string{UnknownMedia}},
		{name: "registered and marked", ev: event(wire.MediaAdd, marked(stick())), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy},
		{name: "registered model-wide and marked", ev: event(wire.MediaAdd, marked(stick())), entry: entry("0781", "5583", ""), policy: markingPolicy},
		{name: "remove of an unknown stick", ev: event(wire.MediaRemove, stick()), policy: markingPolicy},
		{name: "mount of an unknown, marked stick", ev: event(wire.MediaMount, marked(stick())), policy: markingPolicy},
		{name: "unmount of an unknown, unmarked stick", ev: event(wire.MediaUnmount, stick()), policy: markingPolicy},
		{name: "unknown-media disabled", ev: event(wire.MediaAdd, marked(stick())), policy: markingPolicy,
			cfg: Config{UnknownMedia: {Disabled: true}}},
		{name: "blocked and unmarked: only unknown-media", ev: blocked(event(wire.MediaAdd, stick()), true), policy: markingPolicy,
			want: []string{UnknownMedia}},
		{name: "block failed: both", ev: blocked(event(wire.MediaAdd, stick()), false), policy: markingPolicy,
			want: []string{UnknownMedia, UnmarkedMedia}, conds: CondUnmarked},
		{name: "blocked in a sensitive zone: only unknown-media", ev: blocked(event(wire.MediaAdd, stick()), true), zone: sensitive,
			want: []string{UnknownMedia}},
		{name: "loop device, not registered", ev: event(wire.MediaAdd, loop), policy: markingPolicy,
			want: []string{UnknownMedia, UnmarkedMedia}, subject: "media:::/srv/img/stick.img", conds: CondUnmarked},
		{name: "loop device, registered by image", ev: event(wire.MediaAdd, marked(loop)), entry: entry("", "", "/srv/img/stick.img"), policy: markingPolicy},
		{name: "optical drive without identity", ev: event(wire.MediaPresent, optical), policy: markingPolicy,
			want: []string{UnknownMedia}, subject: "media:optical:sr0@agent-1"},

		// unmarked-media
		{name: "registered, unmarked", ev: event(wire.MediaAdd, stick()), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy,
			want: []string{UnmarkedMedia}, conds: CondUnmarked},
		{name: "registered, marking not yet checked", ev: event(wire.MediaAdd, unchecked(stick())), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy},
		{name: "registered, unmarked, seen at mount", ev: event(wire.MediaMount, stick()), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy,
			want: []string{UnmarkedMedia}, conds: CondUnmarked},
		{name: "registered, unmarked, removed", ev: event(wire.MediaRemove, stick()), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy},
		{name: "one volume of two marked", ev: event(wire.MediaAdd, twoVolumes), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy},
		{name: "no volumes: nothing to mark", ev: event(wire.MediaAdd, noVolumes), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy, zone: sensitive},
		{name: "unmarked-media disabled", ev: event(wire.MediaAdd, stick()), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy,
			cfg: Config{UnmarkedMedia: {Disabled: true}}},
		{name: "marked but unencrypted in a sensitive zone", ev: event(wire.MediaAdd, marked(stick())), entry: entry("0781", "5583", "4C530001"), zone: sensitive,
			want: []string{UnmarkedMedia}, conds: CondUnencryptedZone},
		{name: "encryption unknown in a sensitive zone", ev: event(wire.MediaAdd, unknownEnc), entry: entry("0781", "5583", "4C530001"), zone: sensitive,
			want: []string{UnmarkedMedia}, conds: CondUnencryptedZone},
		{name: "marked and encrypted in a sensitive zone", ev: event(wire.MediaAdd, encrypted(marked(stick()))), entry: entry("0781", "5583", "4C530001"), policy: markingPolicy, zone: sensitive},
		{name: "marked, unencrypted, internal zone", ev: event(wire.MediaAdd, marked(stick())), entry: entry("0781", "5583", "4C530001"), zone: internal},
		{name: "marked, unencrypted, zone unknown", ev: event(wire.MediaAdd, marked(stick())), entry: entry("0781", "5583", "4C530001")},
		{name: "unmarked, unencrypted, zone unknown, no marking asked", ev: event(wire.MediaAdd, stick()), entry: entry("0781", "5583", "4C530001")},
		{name: "register requires encryption", ev: event(wire.MediaAdd, marked(stick())), entry: requireEncryption(entry("0781", "5583", "")), policy: markingPolicy,
			want: []string{UnmarkedMedia}, conds: CondUnencryptedRequire},
		{name: "register requires encryption, has it", ev: event(wire.MediaAdd, encrypted(marked(stick()))), entry: requireEncryption(entry("0781", "5583", "")), policy: markingPolicy},
		{name: "every condition at once", ev: event(wire.MediaMount, stick()), entry: requireEncryption(entry("0781", "5583", "4C530001")), policy: markingPolicy, zone: sensitive,
			want: []string{UnmarkedMedia}, conds: CondUnmarked + ", " + CondUnencryptedZone + ", " + CondUnencryptedRequire},
	} {
		in := MediaInput{AgentID: "agent-1", Hostname: "pc-042", Seq: 17, At: at, Event: c.ev, Entry: c.entry, Policy: c.policy, Zone: c.zone}
		fs := Media(in, c.cfg)
		var got []string
		for _, f := range fs {
			got = append(got, f.Rule)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Media fired %v, want %v", c.name, got, c.want)
			continue
		}
		for _, f := range fs {
			want := cmpOr(c.subject, "media:0781:5583:4C530001")
			if f.Subject != want {
				t.Errorf("%s: %s subject = %q, want %q", c.name, f.Rule, f.Subject, want)
			}
			checkFinding(t, c.name, f, in)
			if f.Rule == UnmarkedMedia && f.Facts[FactConditions] != c.conds {
				t.Errorf("%s: conditions = %q, want %q", c.name, f.Facts[FactConditions], c.conds)
			}
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkFinding checks what every media finding carries.
func checkFinding(t *testing.T, name string, f model.Finding, in MediaInput) {
	t.Helper()
	r, _ := Lookup(f.Rule)
	if f.AgentID != "agent-1" || !f.At.Equal(at) || f.Title == "" || !slices.Equal(f.Refs, r.Refs) ||
		!slices.Equal(f.Evidence, []model.EvidenceRef{{AgentID: "agent-1", Seq: 17, Kind: "media"}}) {
		t.Errorf("%s: finding %+v", name, f)
	}
	if f.PersonalData != (f.Rule == UnmarkedMedia) {
		t.Errorf("%s: %s PersonalData = %v", name, f.Rule, f.PersonalData)
	}
	if !strings.Contains(f.Title, "pc-042") {
		t.Errorf("%s: title %q does not name the host", name, f.Title)
	}
	if f.Facts["action"] != in.Event.Action || f.Facts["class"] != in.Event.Device.Class {
		t.Errorf("%s: facts %v", name, f.Facts)
	}
	if d := in.Event.Decision; d != nil && !strings.Contains(f.Facts["decision"], d.Verdict+" by "+d.Rule) {
		t.Errorf("%s: decision fact %q", name, f.Facts["decision"])
	}
	for k, v := range f.Facts {
		if v == "" {
			t.Errorf("%s: empty fact %q", name, k)
		}
	}
}

func TestMediaFindingDetail(t *testing.T) {
	in := MediaInput{AgentID: "agent-1", Hostname: "pc-042", Seq: 9, At: at, Event: blocked(event(wire.MediaAdd, stick()), true), Policy: markingPolicy, Zone: sensitive}
	fs := Media(in, Config{UnknownMedia: {Severity: model.SeverityHigh}})
	if len(fs) != 1 {
		t.Fatalf("Media = %+v, want one finding", fs)
	}
	f := fs[0]
	want := `Unknown removable medium 0781:5583 "SanDisk Ultra Fit" (serial 4C530001) on pc-042`
	if f.Title != want {
		t.Errorf("title = %q, want %q", f.Title, want)
	}
	if f.Severity != model.SeverityHigh || !slices.Equal(f.Refs, []string{"S1.3", "S6.1"}) {
		t.Errorf("severity %q, refs %v", f.Severity, f.Refs)
	}
	for k, v := range map[string]string{
		"vid": "0781", "pid": "5583", "serial": "4C530001", "vendor": "SanDisk", "product": "Ultra Fit",
		"class": "usb-storage", "device": "sdb", "labels": "PRIVATE", "fs_types": "vfat", "encrypted": "no",
		"marking": "none", "decision": "block by media.default.block (mode block, enforced)",
		"zone": "helse (sensitive)", "registered": "no", "volumes": `sdb1 vfat "PRIVATE" encrypted=no marking=none`,
	} {
		if f.Facts[k] != v {
			t.Errorf("fact %s = %q, want %q", k, f.Facts[k], v)
		}
	}

	// Unmarked, two volumes, one of them unencrypted, in a sensitive zone.
	d := stick()
	d.Volumes = append(d.Volumes, wire.MediaVolume{Name: "sdb2", FSType: "exfat", Encrypted: "yes", Encryption: "bitlocker"})
	in = MediaInput{AgentID: "agent-1", Seq: 10, At: at, Event: event(wire.MediaMount, d), Entry: entry("0781", "5583", ""), Policy: markingPolicy, Zone: sensitive}
	fs = Media(in, nil)
	if len(fs) != 1 || fs[0].Rule != UnmarkedMedia {
		t.Fatalf("Media = %+v, want unmarked-media", fs)
	}
	f = fs[0]
	want = `Removable medium 0781:5583 "SanDisk Ultra Fit" (serial 4C530001) on agent-1: unencrypted in sensitive zone helse`
	if f.Title != want || f.Severity != model.SeverityHigh || !f.PersonalData {
		t.Errorf("finding %q (%s, personal data %v), want %q", f.Title, f.Severity, f.PersonalData, want)
	}
	for k, v := range map[string]string{
		"encrypted": "sdb1: no, sdb2: yes", "marking": "not checked yet", FactUnencryptedVolumes: "sdb1 (no)",
		"registered": "yes", "owner_unit": "helse", "classification": "fortrolig", "marking_id": "NK-0042",
		"mount_point": "/media/kari/NK-0042", "user": "kari", "fs_types": "vfat, exfat",
	} {
		if f.Facts[k] != v {
			t.Errorf("fact %s = %q, want %q", k, f.Facts[k], v)
		}
	}
	if _, ok := f.Facts["decision"]; ok {
		t.Errorf("a mount event has a decision fact: %v", f.Facts)
	}
}

func TestMediaTitles(t *testing.T) {
	loop := wire.MediaDevice{Class: wire.MediaLoop, Name: "loop0", Serial: "/srv/img/stick.img"}
	if got, want := describe(loop), `loop "loop0" (image /srv/img/stick.img)`; got != want {
		t.Errorf("describe(loop) = %q, want %q", got, want)
	}
	if got, want := describe(wire.MediaDevice{Class: wire.MediaOptical, Name: "sr0"}), `optical "sr0"`; got != want {
		t.Errorf("describe(optical) = %q, want %q", got, want)
	}
	long := wire.MediaDevice{VID: "0781", PID: "5583", Product: strings.Repeat("å", 1000)}
	in := MediaInput{AgentID: "a", Event: event(wire.MediaAdd, long)}
	fs := Media(in, nil)
	if len(fs) != 1 || len(fs[0].Title) > 2*maxFact || len(fs[0].Facts["product"]) > maxFact+len("…") {
		t.Fatalf("a long product name is not bounded: %d bytes of title", len(fs[0].Title))
	}
	if p := fs[0].Facts["product"]; !strings.HasSuffix(p, "…") || !strings.HasPrefix(p, "åå") || strings.ContainsRune(p, '\uFFFD') {
		t.Errorf("clipped product %q", p)
	}
}

func TestMediaIndex(t *testing.T) {
	x := NewMediaIndex([]model.MediaEntry{
		{VID: "0781", PID: "5583", Serial: "4C530001", Note: "exact"},
		{VID: "0781", PID: "5583", Note: "model"},
		{VID: "090c", PID: "1000", Serial: "AA", Note: "other"},
		{Serial: "/srv/img/stick.img", Note: "loop"},
	})
	if x.Len() != 4 {
		t.Errorf("Len() = %d", x.Len())
	}
	for _, c := range []struct {
		d    wire.MediaDevice
		want string // note of the entry found; "" for none
	}{
		{wire.MediaDevice{VID: "0781", PID: "5583", Serial: "4C530001"}, "exact"},
		{wire.MediaDevice{VID: "0781", PID: "5583", Serial: "4C530002"}, "model"},
		{wire.MediaDevice{VID: "0781", PID: "5583"}, "model"},
		{wire.MediaDevice{VID: "090C", PID: "1000", Serial: "AA"}, "other"},
		{wire.MediaDevice{VID: "090c", PID: "1000", Serial: "AB"}, ""},
		{wire.MediaDevice{Class: wire.MediaLoop, Serial: "/srv/img/stick.img"}, "loop"},
		{wire.MediaDevice{Class: wire.MediaOptical, Name: "sr0"}, ""},
	} {
		e := x.Find(c.d)
		got := ""
		if e != nil {
			got = e.Note
		}
		if got != c.want {
			t.Errorf("Find(%s) = %q, want %q", c.d.Key(), got, c.want)
		}
	}
	if e := NewMediaIndex([]model.MediaEntry{{}}).Find(wire.MediaDevice{}); e != nil {
		t.Errorf("a device without identity matched %+v", e)
	}
}
