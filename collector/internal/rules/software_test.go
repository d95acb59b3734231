package rules

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// swEntry makes a catalogue entry with its ID.
func swEntry(verdict, name, publisher, source, minV, maxV, reason string) model.SoftwareEntry {
	e := model.SoftwareEntry{Verdict: verdict, NamePattern: name, Publisher: publisher, Source: source,
		MinVersion: minV, MaxVersion: maxV, Reason: reason, OwnerUnit: "IT"}
	e.ID = e.Key()
	return e
}

// softwareCatalogue is a municipality's software catalogue in small.
var softwareCatalogue = []model.SoftwareEntry{
	swEntry("denied", "utorrent", "", "windows", "", "", "Peer-to-peer file sharing"),
	swEntry("denied", "*miner*", "", "", "", "", "Crypto mining"),
	swEntry("denied", "openssl", "", "dpkg", "", "3.0.2-0ubuntu1.10", "Known vulnerable build"),
	swEntry("denied", "TeamViewer*", "", "", "", "", ""),
	swEntry("denied", "*-keygen", "", "windows", "", "", "Licence cracking"),
	swEntry("approved", "Firefox*", "Mozilla*", "", "115.0", "", "Standard browser"),
	swEntry("approved", "openssl", "", "dpkg", "3.0.2-0ubuntu1.10", "", ""),
	swEntry("approved", "lib*", "", "dpkg", "", "", "System libraries"),
	swEntry("approved", "python3.??", "", "", "", "", ""),
	swEntry("approved", "kernel", "", "rpm", "5.14.0-362.el9", "6:0", ""),
	swEntry("approved", "7-Zip ?? (x64)", "Igor Pavlov", "windows", "", "", ""),
}

func mustIndex(t testing.TB, entries []model.SoftwareEntry, mode string) *SoftwareIndex {
	t.Helper()
	x, err := NewSoftwareIndex(entries, mode)
	if err != nil {
		t.Fatalf("NewSoftwareIndex: %v", err)
	}
	return x
}

func TestSoftwareJudge(t *testing.T) {
	deny := mustIndex(t, softwareCatalogue, "")
	allow := mustIndex(t, softwareCatalogue, SoftwareAllowlist)
	pkg := func(source, name, version, publisher string) wire.Package {
		return wire.Package{Source: source, Name: name, Version: version, Publisher: publisher}
	}
	tests := []struct {
		name string
		p    wire.Package
		// what each mode says: "" does not fire, else the why.
		deny, allow string
		entry       string // the denied entry's ID, when one matched
	}{
		{"denied exact", pkg("windows", "uTorrent", "3.6", "BitTorrent Inc"), "denied: Peer-to-peer file sharing", "denied: Peer-to-peer file sharing", "denied:utorrent::windows"},
		{"denied entry of another source", pkg("dpkg", "utorrent", "3.6", ""), "", "not in the approved catalogue", ""},
		{"denied glob", pkg("dpkg", "xmrig-miner-cuda", "6.21", ""), "denied: Crypto mining", "denied: Crypto mining", "denied:*miner*::"},
		{"denied by suffix", pkg("windows", "Office-KEYGEN", "1", ""), "denied: Licence cracking", "denied: Licence cracking", "denied:*-keygen::windows"},
		{"suffix must end the name", pkg("windows", "keygen-office", "1", ""), "", "not in the approved catalogue", ""},
		{"denied glob without reason", pkg("windows", "TeamViewer 15", "15.4", "TeamViewer"), "denied", "denied", "denied:teamviewer*::"},
		{"denied glob wins over an approved one", pkg("dpkg", "libminer0", "1.0", ""), "denied: Crypto mining", "denied: Crypto mining", "denied:*miner*::"},
		{"denied below a version", pkg("dpkg", "openssl", "3.0.2-0ubuntu1.9", ""), "denied: Known vulnerable build", "denied: Known vulnerable build", "denied:openssl::dpkg"},
		{"max is exclusive: approved by version range", pkg("dpkg", "openssl", "3.0.2-0ubuntu1.10", ""), "", "", ""},
		{"dpkg order: 1.10 above 1.9", pkg("dpkg", "openssl", "3.0.2-0ubuntu1.12", ""), "", "", ""},
		{"approved by publisher and min version", pkg("windows", "Firefox ESR", "115.5.0", "Mozilla"), "", "", ""},
		{"min is inclusive", pkg("windows", "Firefox", "115.0", "Mozilla Corporation"), "", "", ""},
		{"pattern matches the whole name", pkg("windows", "Mozilla Firefox", "115.0", "Mozilla Corporation"), "", "not in the approved catalogue", ""},
		{"approved glob, version at min", pkg("windows", "Firefox", "115", "Mozilla Corporation"), "", "", ""},
		{"below min version", pkg("windows", "Firefox", "102.9", "Mozilla"), "", "not in the approved catalogue", ""},
		{"wrong publisher", pkg("windows", "Firefox", "120.0", "Evil Ltd"), "", "not in the approved catalogue", ""},
		{"no publisher for a publisher pattern", pkg("dpkg", "firefox", "120.0", ""), "", "not in the approved catalogue", ""},
		{"no version for a bounded range", pkg("windows", "Firefox", "", "Mozilla"), "", "not in the approved catalogue", ""},
		{"allowlist with an approved glob", pkg("dpkg", "libc6", "2.35-0ubuntu3", ""), "", "", ""},
		{"approved glob of another source", pkg("rpm", "libcurl", "7.76", ""), "", "not in the approved catalogue", ""},
		{"question mark is one character", pkg("dpkg", "python3.11", "3.11.4", ""), "", "", ""},
		{"question mark is not two", pkg("dpkg", "python3.111", "3.11.4", ""), "", "not in the approved catalogue", ""},
		{"question mark is one rune", pkg("windows", "7-Zip 2ø (x64)", "23.01", "Igor Pavlov"), "", "", ""},
		{"whole name, not a substring", pkg("windows", "Portable 7-Zip 23 (x64)", "23.01", "Igor Pavlov"), "", "not in the approved catalogue", ""},
		{"rpm epoch: in range", pkg("rpm", "kernel", "5.14.0-427.el9", ""), "", "", ""},
		{"rpm epoch: above max", pkg("rpm", "kernel", "6:1.0-1", ""), "", "not in the approved catalogue", ""},
		{"unlisted", pkg("dpkg", "nethack", "3.6.6", ""), "", "not in the approved catalogue", ""},
		{"empty name", pkg("dpkg", "", "1", ""), "", "not in the approved catalogue", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range []struct {
				x    *SoftwareIndex
				want string
			}{{deny, tt.deny}, {allow, tt.allow}} {
				v, fires := m.x.Judge(tt.p)
				got := ""
				if fires {
					got = v.Why()
				}
				if got != m.want {
					t.Errorf("%s: Judge(%+v) = %q, want %q", m.x.Mode(), tt.p, got, m.want)
				}
				id := ""
				if v.Entry != nil {
					id = v.Entry.ID
				}
				if fires && id != tt.entry {
					t.Errorf("%s: entry %q, want %q", m.x.Mode(), id, tt.entry)
				}
			}
		})
	}
}

func TestSoftwareFindings(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	in := SoftwareInput{
		AgentID: "agent-1", Hostname: "k0001", Seq: 42, At: at,
		Zone: zone.Zone{Name: "helse", Level: zone.Sensitive},
		Packages: []wire.Package{
			{Source: "windows", Name: "uTorrent", Version: "3.6", Publisher: "BitTorrent Inc"},
			{Source: "dpkg", Name: "libc6", Version: "2.35", Arch: "amd64"},
			{Source: "dpkg", Name: "xmrig-miner", Version: "6.21", Arch: "amd64"},
			{Source: "dpkg", Name: "xmrig-miner", Version: "6.20", Arch: "i386"},
			{Source: "dpkg", Name: "xmrig-miner", Version: "6.21", Arch: "arm64"},
			{Source: "rpm", Name: "xmrig-miner", Version: "6.21"},
		},
	}
	fs := Software(in, mustIndex(t, softwareCatalogue, SoftwareDenylist), nil)
	var subjects []string
	for _, f := range fs {
		subjects = append(subjects, f.Subject)
	}
	want := []string{"software:agent-1:windows:uTorrent", "software:agent-1:dpkg:xmrig-miner", "software:agent-1:rpm:xmrig-miner"}
	if !reflect.DeepEqual(subjects, want) {
		t.Fatalf("subjects %q, want %q", subjects, want)
	}
	f := fs[0]
	wantFacts := map[string]string{
		"name": "uTorrent", "version": "3.6", "publisher": "BitTorrent Inc", "source": "windows",
		"verdict": "denied", "why": "denied: Peer-to-peer file sharing", "entry": "denied:utorrent::windows",
		"reason": "Peer-to-peer file sharing", "owner_unit": "IT", "mode": "denylist", "zone": "helse (sensitive)",
	}
	if f.Rule != UnapprovedSoftware || f.AgentID != "agent-1" || !f.At.Equal(at) || f.Severity != model.SeverityMedium ||
		!reflect.DeepEqual(f.Refs, []string{"S1.3"}) || f.PersonalData || !reflect.DeepEqual(f.Facts, wantFacts) {
		t.Errorf("finding %+v", f)
	}
	if got := f.Title; got != `Denied software "uTorrent" 3.6 on k0001 (denied: Peer-to-peer file sharing)` {
		t.Errorf("title %q", got)
	}
	if !reflect.DeepEqual(f.Evidence, []model.EvidenceRef{{AgentID: "agent-1", Seq: 42, Kind: "inventory"}}) {
		t.Errorf("evidence %+v", f.Evidence)
	}
	if got := fs[1].Facts["version"]; got != "6.21, 6.20" {
		t.Errorf("versions of one subject = %q, want %q", got, "6.21, 6.20")
	}

	// The subject does not change with the version.
	in.Packages = []wire.Package{{Source: "windows", Name: "uTorrent", Version: "3.7"}}
	if fs := Software(in, mustIndex(t, softwareCatalogue, ""), nil); len(fs) != 1 || fs[0].Subject != want[0] {
		t.Errorf("after an upgrade: %+v", fs)
	}

	// Allowlist: unlisted software fires, with the agent id in the title
	// when the host name is not known.
	in.Hostname = ""
	in.Packages = []wire.Package{{Source: "dpkg", Name: "nethack", Version: "3.6.6"}, {Source: "dpkg", Name: "libc6", Version: "2.35"}}
	fs = Software(in, mustIndex(t, softwareCatalogue, SoftwareAllowlist), Config{UnapprovedSoftware: {Severity: model.SeverityLow}})
	if len(fs) != 1 || fs[0].Subject != "software:agent-1:dpkg:nethack" || fs[0].Severity != model.SeverityLow ||
		fs[0].Facts["verdict"] != "unlisted" || fs[0].Facts["entry"] != "" || fs[0].Facts["mode"] != "allowlist" ||
		fs[0].Title != `Software "nethack" 3.6.6 on agent-1 is not in the approved catalogue` {
		t.Errorf("allowlist findings %+v", fs)
	}

	// Must not fire: disabled rule, no index, an empty catalogue in denylist mode.
	in.Packages = []wire.Package{{Source: "windows", Name: "uTorrent", Version: "3.6"}}
	if fs := Software(in, mustIndex(t, softwareCatalogue, ""), Config{UnapprovedSoftware: {Disabled: true}}); fs != nil {
		t.Errorf("disabled rule fired: %+v", fs)
	}
	if fs := Software(in, nil, nil); fs != nil {
		t.Errorf("nil index fired: %+v", fs)
	}
	if fs := Software(in, mustIndex(t, nil, ""), nil); fs != nil {
		t.Errorf("empty denylist fired: %+v", fs)
	}
	// An empty allowlist approves nothing.
	if fs := Software(in, mustIndex(t, nil, SoftwareAllowlist), nil); len(fs) != 1 {
		t.Errorf("empty allowlist: %+v", fs)
	}
}

func TestNewSoftwareIndexRefuses(t *testing.T) {
	for _, tc := range []struct {
		entries []model.SoftwareEntry
		mode    string
		want    string
	}{
		{nil, "blocklist", `software catalogue mode "blocklist": want denylist or allowlist`},
		{[]model.SoftwareEntry{swEntry("maybe", "x", "", "", "", "", "")}, "", "maybe:x::"},
		{[]model.SoftwareEntry{swEntry("denied", "x[1]", "", "", "", "", "")}, "", "not supported"},
		{[]model.SoftwareEntry{swEntry("denied", "x", "", "snap", "", "", "")}, "", "snap"},
	} {
		x, err := NewSoftwareIndex(tc.entries, tc.mode)
		if err == nil || x != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSoftwareIndex(%v, %q) = %v, want an error naming %q", tc.entries, tc.mode, err, tc.want)
		}
	}
	if x := mustIndex(t, softwareCatalogue, ""); x.Mode() != SoftwareDenylist || x.Len() != len(softwareCatalogue) {
		t.Errorf("index mode %q, %d entries", x.Mode(), x.Len())
	}
}

// benchCatalogue is 500 entries: 300 plain names, 150 patterns with a
// prefix, 50 that start with a wildcard, a third of each denied, a fifth
// with a version range.
func benchCatalogue() []model.SoftwareEntry {
	var es []model.SoftwareEntry
	for i := range 500 {
		verdict := "approved"
		if i%3 == 0 {
			verdict = "denied"
		}
		var name string
		switch {
		case i < 300:
			name = fmt.Sprintf("package-%03d", i)
		case i < 450:
			name = fmt.Sprintf("%c%c-tool-%d*", 'a'+i%26, 'a'+i/26%26, i)
		default:
			name = fmt.Sprintf("*-plugin-%d", i)
		}
		minV, maxV := "", ""
		if i%5 == 0 {
			minV, maxV = "1.0", "2.0"
		}
		es = append(es, swEntry(verdict, name, "", "", minV, maxV, "bench"))
	}
	return es
}

// benchPackages is 2 000 installed packages, some in the catalogue.
func benchPackages() []wire.Package {
	ps := make([]wire.Package, 2000)
	for i := range ps {
		name := fmt.Sprintf("lib%s-%d", strings.Repeat("x", i%7), i)
		switch i % 10 {
		case 0:
			name = fmt.Sprintf("package-%03d", i%300)
		case 1:
			name = fmt.Sprintf("%c%c-tool-%d-extra", 'a'+i%26, 'a'+i/26%26, 300+i%150)
		}
		ps[i] = wire.Package{Source: "dpkg", Name: name, Version: fmt.Sprintf("1.%d.%d-1ubuntu%d", i%9, i%4, i%3), Arch: "amd64"}
	}
	return ps
}

// BenchmarkSoftware judges 2 000 packages against 500 entries; ns/package is
// the per-package cost during ingest.
func BenchmarkSoftware(b *testing.B) {
	for _, mode := range []string{SoftwareDenylist, SoftwareAllowlist} {
		b.Run(mode, func(b *testing.B) {
			idx := mustIndex(b, benchCatalogue(), mode)
			in := SoftwareInput{AgentID: "agent-1", Hostname: "k0001", Seq: 1, Packages: benchPackages()}
			var n int
			for b.Loop() {
				n = len(Software(in, idx, nil))
			}
			if n == 0 {
				b.Fatal("nothing fired")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(in.Packages)), "ns/package")
		})
	}
}

// BenchmarkSoftwareJudge is the judgement alone, without building findings:
// 2 000 packages against 500 entries per op.
func BenchmarkSoftwareJudge(b *testing.B) {
	for _, mode := range []string{SoftwareDenylist, SoftwareAllowlist} {
		b.Run(mode, func(b *testing.B) {
			idx := mustIndex(b, benchCatalogue(), mode)
			ps := benchPackages()
			fired := 0
			for b.Loop() {
				fired = 0
				for _, p := range ps {
					if _, ok := idx.Judge(p); ok {
						fired++
					}
				}
			}
			if fired == 0 {
				b.Fatal("nothing fired")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ps)), "ns/package")
			b.ReportMetric(float64(fired), "fired")
		})
	}
}

// The engine builds the index once per catalogue (again when the catalogue
// changes) and judges each agent's current packages with it.
func ExampleSoftware() {
	catalogue := []model.SoftwareEntry{
		{ID: "denied:utorrent::", Verdict: model.SoftwareDenied, NamePattern: "utorrent", Reason: "Peer-to-peer file sharing"},
		{ID: "approved:firefox*::", Verdict: model.SoftwareApproved, NamePattern: "Firefox*", MinVersion: "115"},
	}
	idx, err := NewSoftwareIndex(catalogue, SoftwareAllowlist)
	if err != nil {
		fmt.Println(err)
		return
	}
	in := SoftwareInput{AgentID: "agent-1", Hostname: "k0001", Seq: 7, Packages: []wire.Package{
		{Source: "windows", Name: "uTorrent", Version: "3.6"},
		{Source: "windows", Name: "Firefox", Version: "128.0"},
		{Source: "windows", Name: "Firefox", Version: "102.0", Scope: "S-1-5-21-1"},
		{Source: "windows", Name: "Notepad++", Version: "8.6"},
	}}
	for _, f := range Software(in, idx, nil) {
		fmt.Printf("%s | %s | %s\n", f.Subject, f.Facts["version"], f.Facts["why"])
	}
	// Output:
	// software:agent-1:windows:uTorrent | 3.6 | denied: Peer-to-peer file sharing
	// software:agent-1:windows:Firefox | 102.0 | not in the approved catalogue
	// software:agent-1:windows:Notepad++ | 8.6 | not in the approved catalogue
}
