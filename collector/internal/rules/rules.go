// Package rules is the rule catalogue: pure functions that turn what agents
// observed, the registers and the policy into findings, each naming the
// strategy sentences (S-ids) it serves. It does no I/O: the caller looks up
// the register entries, the policy and the host's zone and passes them in, and
// hands the findings to the deviation engine, which dedupes, routes and
// stores them.
//
// Every rule of the catalogue (DESIGN.md, "Rules") has a descriptor in
// Catalogue, implemented or not, so that configuration, the UI and evidence
// can name them all. A rule is added as a file with its evaluation function
// (media.go holds unknown-media and unmarked-media), its descriptor marked
// Implemented, and its table test.
package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Rule names, as findings, deviations and the configuration carry them.
const (
	UnregisteredHost   = "unregistered-host"
	UnknownDevice      = "unknown-device"
	UnknownMedia       = "unknown-media"
	UnmarkedMedia      = "unmarked-media"
	UnapprovedSoftware = "unapproved-software"
	CrossZoneFlow      = "cross-zone-flow"
	SharedSolution     = "shared-solution"
	AgentSilent        = "agent-silent"
	DuplicateIdentity  = "duplicate-identity"
	SupplierAccess     = "supplier-access"
	SpoolDrops         = "spool-dropped"
)

// Rule describes one rule of the catalogue.
type Rule struct {
	Name            string
	Refs            []string // strategy ids the rule serves
	DefaultSeverity string   // model.Severity…
	// PersonalData reports whether the rule's findings may involve personal
	// data, so that a breach assessment opens with their deviations.
	PersonalData bool
	Doc          string // when it fires, one English sentence
	// Implemented reports whether the collector evaluates the rule yet.
	Implemented bool
}

// catalogue is the first rule catalogue of DESIGN.md, in its order, then
// the rules added since.
var catalogue = []Rule{
	{Name: UnregisteredHost, Refs: []string{"S1.3"}, DefaultSeverity: model.SeverityHigh, Implemented: true,
		Doc: "An agent's host matches no asset in the register (serial, MAC, asset tag)."},
	{Name: UnknownDevice, Refs: []string{"S1.3", "S1.4"}, DefaultSeverity: model.SeverityMedium, Implemented: true,
		Doc: "A device seen on the wire (ARP, DHCP, NDP) matches no asset and runs no agent."},
	{Name: UnknownMedia, Refs: []string{"S1.3", "S6.1"}, DefaultSeverity: model.SeverityMedium, Implemented: true,
		Doc: "A removable medium (VID:PID:serial) arrived that is not in the media register."},
	{Name: UnmarkedMedia, Refs: []string{"S6.1"}, DefaultSeverity: model.SeverityHigh, PersonalData: true, Implemented: true,
		Doc: "A removable medium lacks the marking the policy asks for, is unencrypted in a sensitive zone, or is unencrypted though the register requires encryption."},
	{Name: UnapprovedSoftware, Refs: []string{"S1.3"}, DefaultSeverity: model.SeverityMedium, Implemented: true,
		Doc: "Software outside the approved catalogue, or on the denied list, is installed."},
	{Name: CrossZoneFlow, Refs: []string{"S5.1", "S5.3"}, DefaultSeverity: model.SeverityHigh, Implemented: true,
		Doc: "A flow between zones was observed that the firewall map does not allow."},
	{Name: SharedSolution, Refs: []string{"S5.2"}, DefaultSeverity: model.SeverityHigh, Implemented: true,
		Doc: "A host reaches several zones without being registered as a shared-solution machine."},
	{Name: AgentSilent, Refs: []string{"S1.4"}, DefaultSeverity: model.SeverityMedium, Implemented: true,
		Doc: "A registered host's agent has not reported within three of its intervals."},
	{Name: DuplicateIdentity, Refs: []string{"S1.3"}, DefaultSeverity: model.SeverityHigh, Implemented: true,
		Doc: "One identity shows up on two machines (a cloned disk image), or one machine holds two identities."},
	{Name: SupplierAccess, Refs: []string{"S2.2", "S2.3"}, DefaultSeverity: model.SeverityHigh, Implemented: true,
		Doc: "A supplier's account is active on a host without a signed confidentiality declaration."},
	// Beyond DESIGN.md's first catalogue (issue 10): records an agent had to
	// drop leave a gap in the configuration map (S1.4) and in the trail a
	// security audit controls (S8.1).
	{Name: SpoolDrops, Refs: []string{"S1.4", "S8.1"}, DefaultSeverity: model.SeverityMedium, Implemented: true,
		Doc: "An agent reports records dropped from its spool (bound reached, disk full or damage) that the collector never received."},
}

// Catalogue returns every rule of the catalogue, in the order DESIGN.md lists
// them. The caller may change what it gets.
func Catalogue() []Rule {
	out := make([]Rule, len(catalogue))
	for i, r := range catalogue {
		r.Refs = slices.Clone(r.Refs)
		out[i] = r
	}
	return out
}

// Names returns the names of every rule of the catalogue, in its order.
func Names() []string {
	out := make([]string, len(catalogue))
	for i, r := range catalogue {
		out[i] = r.Name
	}
	return out
}

// Lookup returns the rule of that name.
func Lookup(name string) (Rule, bool) {
	for _, r := range catalogue {
		if r.Name == name {
			r.Refs = slices.Clone(r.Refs)
			return r, true
		}
	}
	return Rule{}, false
}

// Severities lists the severities, lowest first.
var Severities = []string{model.SeverityLow, model.SeverityMedium, model.SeverityHigh, model.SeverityCritical}

// ValidSeverity reports whether s is a known severity.
func ValidSeverity(s string) bool { return slices.Contains(Severities, s) }

// Setting is how the collector's configuration tunes one rule. The zero
// Setting keeps the rule on at its default severity.
type Setting struct {
	Disabled bool
	Severity string // "" for the rule's default
}

// Config tunes rules by name; a rule it does not name is on at its default
// severity, so a nil Config is the catalogue as shipped.
type Config map[string]Setting

// Validate checks that every rule named is in the catalogue and every
// severity is known.
func (c Config) Validate() error {
	for _, name := range slices.Sorted(maps.Keys(c)) {
		if _, ok := Lookup(name); !ok {
			return fmt.Errorf("rule %q: unknown; known rules are %s", name, strings.Join(Names(), ", "))
		}
		if s := c[name].Severity; s != "" && !ValidSeverity(s) {
			return fmt.Errorf("rule %q: severity %q: want %s", name, s, strings.Join(Severities, ", "))
		}
	}
	return nil
}

// Enabled reports whether the rule is on.
func (c Config) Enabled(rule string) bool { return !c[rule].Disabled }

// Severity returns the severity the rule's findings get: the configured one,
// else the catalogue's default.
func (c Config) Severity(rule string) string {
	if s := c[rule].Severity; s != "" {
		return s
	}
	r, _ := Lookup(rule)
	return r.DefaultSeverity
}

// finding fills what every finding of a rule shares: its name, refs,
// severity and whether personal data may be involved.
func (c Config) finding(rule string) model.Finding {
	r, _ := Lookup(rule)
	return model.Finding{Rule: rule, Refs: r.Refs, Severity: c.Severity(rule), PersonalData: r.PersonalData}
}
