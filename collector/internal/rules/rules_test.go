package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestCatalogue(t *testing.T) {
	// The catalogue of DESIGN.md, "Rules", in its order.
	want := map[string][]string{
		"unregistered-host":   {"S1.3"},
		"unknown-device":      {"S1.3", "S1.4"},
		"unknown-media":       {"S1.3", "S6.1"},
		"unmarked-media":      {"S6.1"},
		"unapproved-software": {"S1.3"},
		"cross-zone-flow":     {"S5.1", "S5.3"},
		"shared-solution":     {"S5.2"},
		"agent-silent":        {"S1.4"},
		"duplicate-identity":  {"S1.3"},
		"supplier-access":     {"S2.2", "S2.3"},
		"spool-dropped":       {"S1.4", "S8.1"},
	}
	order := []string{"unregistered-host", "unknown-device", "unknown-media", "unmarked-media", "unapproved-software",
		"cross-zone-flow", "shared-solution", "agent-silent", "duplicate-identity", "supplier-access", "spool-dropped"}
	if got := Names(); !slices.Equal(got, order) {
		t.Errorf("Names() = %v, want %v", got, order)
	}
	var implemented []string
	for _, r := range Catalogue() {
		if !slices.Equal(r.Refs, want[r.Name]) {
			t.Errorf("%s refs %v, want %v", r.Name, r.Refs, want[r.Name])
		}
		if !ValidSeverity(r.DefaultSeverity) || r.Doc == "" {
			t.Errorf("%s: severity %q, doc %q", r.Name, r.DefaultSeverity, r.Doc)
		}
		if r.Implemented {
			implemented = append(implemented, r.Name)
		}
	}
	if !slices.Equal(implemented, []string{UnregisteredHost, UnknownDevice, UnknownMedia, UnmarkedMedia, UnapprovedSoftware, CrossZoneFlow, SharedSolution,
		AgentSilent, DuplicateIdentity, SupplierAccess, SpoolDrops}) {
		t.Errorf("implemented rules %v", implemented)
	}
	// Callers get copies.
	c := Catalogue()
	c[0].Refs[0] = "S9.9"
	if r, _ := Lookup(UnregisteredHost); r.Refs[0] != "S1.3" {
		t.Error("changing Catalogue()'s result changed the catalogue")
	}
	if _, ok := Lookup("no-such-rule"); ok {
		t.Error("Lookup found an unknown rule")
	}
}

func TestConfig(t *testing.T) {
	var none Config
	if !none.Enabled(UnknownMedia) || none.Severity(UnknownMedia) != model.SeverityMedium || none.Validate() != nil {
		t.Error("a nil Config is not the catalogue as shipped")
	}
	c := Config{UnknownMedia: {Disabled: true}, UnmarkedMedia: {Severity: model.SeverityCritical}}
	if c.Enabled(UnknownMedia) || !c.Enabled(UnmarkedMedia) || c.Severity(UnmarkedMedia) != model.SeverityCritical ||
		c.Severity(UnknownMedia) != model.SeverityMedium {
		t.Errorf("Config %v read wrong", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	for _, bad := range []struct {
		c    Config
		want string
	}{
		{Config{"unknown-usb": {}}, `rule "unknown-usb": unknown; known rules are unregistered-host, unknown-device, unknown-media`},
		{Config{UnknownMedia: {Severity: "urgent"}}, `rule "unknown-media": severity "urgent": want low, medium, high, critical`},
	} {
		if err := bad.c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Validate(%v) = %v, want %q", bad.c, err, bad.want)
		}
	}
}
