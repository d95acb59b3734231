package web

import "github.com/sonevakt/sonevakt/collector/internal/model"

// navEntry is one link of the main navigation or of a section's own
// navigation: the page's Nav name, where it goes, its catalogue key, and the
// roles that see it (nil: everyone).
type navEntry struct {
	Nav   string
	Href  string
	Label string
	Roles []model.Role
}

// navSection is one entry of the main navigation with the pages under it.
type navSection struct {
	navEntry
	Pages []navEntry
}

// navigation is the UI's structure: eight sections, each with its pages. A
// page's Nav names either a section or one of its pages.
var navigation = []navSection{
	{navEntry: navEntry{"overview", "/", "nav.overview", nil}},
	{navEntry: navEntry{"configmap", "/configmap", "nav.configmap", nil}},
	{navEntry: navEntry{"hosts", "/hosts", "nav.hosts", nil}, Pages: []navEntry{
		{"hosts", "/hosts", "nav.hosts", nil},
		{"software", "/software", "nav.software", nil},
		{"media", "/media", "nav.media", nil},
	}},
	{navEntry: navEntry{"deviations", "/deviations", "nav.deviations", deviationReaders}},
	{navEntry: navEntry{"traffic", "/flows", "nav.traffic", nil}, Pages: []navEntry{
		{"flows", "/flows", "nav.flows", nil},
		{"neighbours", "/neighbours", "nav.neighbours", nil},
	}},
	{navEntry: navEntry{"registers", "/assets", "nav.registers", nil}, Pages: []navEntry{
		{"assets", "/assets", "nav.assets", nil},
		{"software_catalog", "/software/catalog", "nav.software_catalog", nil},
		{"register", "/media/register", "nav.register", nil},
		{"zones", "/zones", "nav.zones", nil},
		{"org", "/org", "nav.org", nil},
	}},
	{navEntry: navEntry{"audit", "/audit", "nav.audit", auditReaders}},
	{navEntry: navEntry{"admin", "/admin", "nav.admin", admins}},
}

// navLink is a navigation link as a template shows it.
type navLink struct {
	Href, Label string
	Current     bool
}

// navFor returns the main navigation and the current section's pages for a
// role, with the page named nav marked current.
func navFor(role model.Role, nav string) (main, sub []navLink) {
	visible := func(e navEntry) bool {
		if e.Roles == nil {
			return true
		}
		for _, r := range e.Roles {
			if r == role {
				return true
			}
		}
		return false
	}
	for _, sec := range navigation {
		if !visible(sec.navEntry) {
			continue
		}
		in := sec.Nav == nav
		for _, p := range sec.Pages {
			if p.Nav == nav {
				in = true
			}
		}
		main = append(main, navLink{sec.Href, sec.Label, in})
		if in && len(sec.Pages) > 0 && sub == nil {
			for _, p := range sec.Pages {
				if visible(p) {
					sub = append(sub, navLink{p.Href, p.Label, p.Nav == nav})
				}
			}
		}
	}
	return main, sub
}
