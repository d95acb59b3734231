package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/inventory"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Modes of the software catalogue, as the collector configuration names
// them.
const (
	// SoftwareDenylist fires only for software a denied entry matches; the
	// default.
	SoftwareDenylist = "denylist"
	// SoftwareAllowlist fires for software no approved entry matches, and
	// for software a denied entry matches, approved or not.
	SoftwareAllowlist = "allowlist"
)

// ValidSoftwareMode reports whether mode is a catalogue mode ("" is the
// default, denylist).
func ValidSoftwareMode(mode string) bool {
	return mode == "" || mode == SoftwareDenylist || mode == SoftwareAllowlist
}

// Facts of unapproved-software, the keys of Finding.Facts (the UI
// translates them as fact.<key>). Empty values are left out.
//
//	name, version, arch, publisher, source, scope   the package as the agent reported it;
//	                                                version lists every version of that name and source, comma separated
//	verdict      denied, or unlisted (allowlist: no approved entry matches)
//	why          "denied: <reason>" or "not in the approved catalogue"
//	entry        the ID of the matching denied entry
//	reason, owner_unit   from that entry
//	mode         the catalogue's mode: denylist or allowlist
//	zone         the host's zone, "helse (sensitive)"
const (
	FactSoftwareVerdict = "verdict"
	FactSoftwareWhy     = "why"
	FactSoftwareEntry   = "entry"
)

// Values of the verdict fact.
const (
	SoftwareVerdictDenied   = "denied"
	SoftwareVerdictUnlisted = "unlisted"
)

// SoftwareInput is one agent's installed packages (its current inventory)
// with what unapproved-software judges them against besides the catalogue.
type SoftwareInput struct {
	AgentID  string
	Hostname string // "" when not known; titles then name the agent id
	Seq      uint64 // the inventory record's seq, for the evidence link
	At       time.Time
	Packages []wire.Package
	Zone     zone.Zone // the host's zone; Level "" when not known
}

// softwareRule is one catalogue entry, compiled.
type softwareRule struct {
	entry      model.SoftwareEntry
	name, pub  model.SoftwareGlob
	anyPub     bool
	denied     bool
	hasVersion bool // a bound is set
}

// SoftwareIndex is the software catalogue compiled for judging packages:
// built once per catalogue (NewSoftwareIndex), then read by any number of
// goroutines. Entries with a plain name are found in a map; patterns are
// kept by the first character of their literal prefix, or else the last of
// their literal suffix, so that a package is tried only against the few
// patterns that can match it.
type SoftwareIndex struct {
	mode    string
	n       int
	exact   map[string][]*softwareRule // by lower-cased name
	byFirst map[byte][]*softwareRule   // patterns with a literal prefix, by its first byte
	byLast  map[byte][]*softwareRule   // the others with a literal suffix, by its last byte
	wild    []*softwareRule            // patterns with neither
}

// NewSoftwareIndex compiles the catalogue for mode (SoftwareDenylist,
// SoftwareAllowlist, or "" for denylist). Where several entries match a
// package to deny it, an entry with a plain name is preferred, then a
// pattern with a literal prefix, one with a literal suffix, and the rest;
// within each, the entries' order as given (the store returns them by ID). It refuses an
// unknown mode and an entry whose verdict or patterns are malformed
// (model.CheckSoftwareEntry), naming it.
func NewSoftwareIndex(entries []model.SoftwareEntry, mode string) (*SoftwareIndex, error) {
	if !ValidSoftwareMode(mode) {
		return nil, fmt.Errorf("software catalogue mode %q: want %s or %s", mode, SoftwareDenylist, SoftwareAllowlist)
	}
	if mode == "" {
		mode = SoftwareDenylist
	}
	x := &SoftwareIndex{mode: mode, n: len(entries), exact: make(map[string][]*softwareRule),
		byFirst: make(map[byte][]*softwareRule), byLast: make(map[byte][]*softwareRule)}
	for _, e := range entries {
		if err := model.CheckSoftwareEntry(e); err != nil {
			return nil, fmt.Errorf("software catalogue entry %s: %w", e.ID, err)
		}
		name, _ := model.ParseSoftwareGlob(e.NamePattern)
		pub, _ := model.ParseSoftwareGlob(e.Publisher)
		r := &softwareRule{entry: e, name: name, pub: pub, anyPub: e.Publisher == "",
			denied: e.Verdict == model.SoftwareDenied, hasVersion: e.MinVersion != "" || e.MaxVersion != ""}
		switch prefix, exact := name.Literal(); {
		case exact:
			x.exact[prefix] = append(x.exact[prefix], r)
		case prefix != "":
			x.byFirst[prefix[0]] = append(x.byFirst[prefix[0]], r)
		case name.Suffix() != "":
			suffix := name.Suffix()
			x.byLast[suffix[len(suffix)-1]] = append(x.byLast[suffix[len(suffix)-1]], r)
		default:
			x.wild = append(x.wild, r)
		}
	}
	return x, nil
}

// Mode returns the index's mode: SoftwareDenylist or SoftwareAllowlist.
func (x *SoftwareIndex) Mode() string { return x.mode }

// Len returns how many entries the index holds.
func (x *SoftwareIndex) Len() int { return x.n }

// SoftwareVerdict is why a package fires unapproved-software.
type SoftwareVerdict struct {
	Verdict string               // SoftwareVerdictDenied or SoftwareVerdictUnlisted
	Entry   *model.SoftwareEntry // the denied entry that matched; nil when unlisted
}

// Why is the verdict in a few English words: "denied: <reason>", "denied"
// without a reason, or "not in the approved catalogue".
func (v SoftwareVerdict) Why() string {
	switch {
	case v.Entry == nil:
		return "not in the approved catalogue"
	case v.Entry.Reason != "":
		return "denied: " + v.Entry.Reason
	}
	return "denied"
}

// Judge reports whether package p fires unapproved-software and why: a
// denied entry matches it (in either mode), or, in allowlist mode, no
// approved entry does. An entry matches when its name pattern matches the
// whole name and its publisher pattern the publisher (any, when empty), its
// source is the package's (any, when empty), and the version lies in its
// range, MinVersion inclusive and MaxVersion exclusive, by the package
// source's version order (inventory.CompareVersions); a package without a
// version is in no bounded range.
func (x *SoftwareIndex) Judge(p wire.Package) (SoftwareVerdict, bool) {
	if x == nil {
		return SoftwareVerdict{}, false
	}
	name := strings.ToLower(p.Name)
	var pub string // lower-cased on first need
	pubDone := false
	approved := false
	try := func(rules []*softwareRule, exact bool) *softwareRule {
		for _, r := range rules {
			if !r.denied && (approved || x.mode == SoftwareDenylist) {
				continue // nothing to learn from another approved entry
			}
			if r.entry.Source != "" && r.entry.Source != p.Source {
				continue
			}
			if !exact && !r.name.MatchLower(name) {
				continue
			}
			if !r.anyPub {
				if !pubDone {
					pub, pubDone = strings.ToLower(p.Publisher), true
				}
				if !r.pub.MatchLower(pub) {
					continue
				}
			}
			if r.hasVersion && !inRange(r.entry, p) {
				continue
			}
			if r.denied {
				return r
			}
			approved = true
		}
		return nil
	}
	if r := try(x.exact[name], true); r != nil {
		return SoftwareVerdict{Verdict: SoftwareVerdictDenied, Entry: &r.entry}, true
	}
	if name != "" {
		if r := try(x.byFirst[name[0]], false); r != nil {
			return SoftwareVerdict{Verdict: SoftwareVerdictDenied, Entry: &r.entry}, true
		}
		if r := try(x.byLast[name[len(name)-1]], false); r != nil {
			return SoftwareVerdict{Verdict: SoftwareVerdictDenied, Entry: &r.entry}, true
		}
	}
	if r := try(x.wild, false); r != nil {
		return SoftwareVerdict{Verdict: SoftwareVerdictDenied, Entry: &r.entry}, true
	}
	if x.mode == SoftwareAllowlist && !approved {
		return SoftwareVerdict{Verdict: SoftwareVerdictUnlisted}, true
	}
	return SoftwareVerdict{}, false
}

// inRange reports whether p's version lies in e's range: MinVersion <=
// version < MaxVersion by p's source's version order.
func inRange(e model.SoftwareEntry, p wire.Package) bool {
	if p.Version == "" {
		return false
	}
	if e.MinVersion != "" && inventory.CompareVersions(p.Source, p.Version, e.MinVersion) < 0 {
		return false
	}
	if e.MaxVersion != "" && inventory.CompareVersions(p.Source, p.Version, e.MaxVersion) >= 0 {
		return false
	}
	return true
}

// SoftwareSubject is the subject of an unapproved-software finding: the
// agent, the package's source and name, without its version, so that an
// upgrade of the same software is an occurrence of one deviation:
// "software:<agent id>:<source>:<name>".
func SoftwareSubject(agentID, source, name string) string {
	return "software:" + agentID + ":" + source + ":" + name
}

// Software judges an agent's installed packages with the rule
// unapproved-software (see SoftwareIndex.Judge) and returns one finding per
// package that fires, in the packages' order. Packages of one source and
// name (several architectures or versions, per-user installs) are one
// subject and one finding, whose version fact lists their versions. A nil
// index, or the rule disabled, fires nothing.
func Software(in SoftwareInput, idx *SoftwareIndex, cfg Config) []model.Finding {
	if idx == nil || !cfg.Enabled(UnapprovedSoftware) {
		return nil
	}
	var out []model.Finding
	var seen map[string]int // subject -> index in out
	for _, p := range in.Packages {
		v, fires := idx.Judge(p)
		if !fires {
			continue
		}
		subject := SoftwareSubject(in.AgentID, p.Source, p.Name)
		if i, dup := seen[subject]; dup {
			if p.Version != "" {
				vs := strings.Split(out[i].Facts["version"], ", ")
				if !slices.Contains(vs, p.Version) {
					out[i].Facts["version"] = clip(out[i].Facts["version"] + ", " + p.Version)
				}
			}
			continue
		}
		if seen == nil {
			seen = make(map[string]int)
		}
		seen[subject] = len(out)
		out = append(out, in.softwareFinding(cfg, p, v, idx.mode, subject))
	}
	return out
}

func (in SoftwareInput) softwareFinding(cfg Config, p wire.Package, v SoftwareVerdict, mode, subject string) model.Finding {
	f := cfg.finding(UnapprovedSoftware)
	f.Subject = subject
	f.AgentID = in.AgentID
	f.At = in.At
	f.Evidence = []model.EvidenceRef{{AgentID: in.AgentID, Seq: in.Seq, Kind: string(wire.KindInventory)}}
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = clip(v)
		}
	}
	set("name", p.Name)
	set("version", p.Version)
	set("arch", p.Arch)
	set("publisher", p.Publisher)
	set("source", p.Source)
	set("scope", p.Scope)
	set(FactSoftwareVerdict, v.Verdict)
	set(FactSoftwareWhy, v.Why())
	set("mode", mode)
	set("zone", in.Zone.String())
	if e := v.Entry; e != nil {
		set(FactSoftwareEntry, e.ID)
		set("reason", e.Reason)
		set("owner_unit", e.OwnerUnit)
	}
	f.Facts = m

	host := in.AgentID
	if in.Hostname != "" {
		host = clip(in.Hostname)
	}
	what := fmt.Sprintf("%q", clip(p.Name))
	if p.Version != "" {
		what += " " + clip(p.Version)
	}
	if v.Entry != nil {
		f.Title = fmt.Sprintf("Denied software %s on %s (%s)", what, host, clip(v.Why()))
	} else {
		f.Title = fmt.Sprintf("Software %s on %s is not in the approved catalogue", what, host)
	}
	return f
}
