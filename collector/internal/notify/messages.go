package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// catalogue holds every text a notification shows, by language.
var catalogue = map[string]map[string]string{
	"nb": {
		"subject":      "[Sonevakt] Nytt avvik %s: %s",
		"intro":        "Sonevakt har åpnet et avvik som er tildelt deg.",
		"id":           "Avvik",
		"rule":         "Regel",
		"severity":     "Alvorlighet",
		"refs":         "Strategikrav",
		"seen":         "Observert",
		"due":          "Frist",
		"breach":       "Personopplysninger kan være berørt. Bruddvurdering (72 timer) må gjøres innen",
		"facts":        "Hva regelen så",
		"link":         "Behandle avviket",
		"sev.low":      "lav",
		"sev.medium":   "middels",
		"sev.high":     "høy",
		"sev.critical": "kritisk",
	},
	"en": {
		"subject":      "[Sonevakt] New deviation %s: %s",
		"intro":        "Sonevakt opened a deviation assigned to you.",
		"id":           "Deviation",
		"rule":         "Rule",
		"severity":     "Severity",
		"refs":         "Strategy requirements",
		"seen":         "Observed",
		"due":          "Due",
		"breach":       "Personal data may be involved. The breach assessment (72 hours) is due by",
		"facts":        "What the rule saw",
		"link":         "Handle the deviation",
		"sev.low":      "low",
		"sev.medium":   "medium",
		"sev.high":     "high",
		"sev.critical": "critical",
	},
}

func text(lang, key string) string {
	if m, ok := catalogue[lang]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	return catalogue["nb"][key]
}

// DeviationCreated is the e-mail telling a recipient of a new deviation, in
// their language (nb when unknown). uiURL, when set, gives a link to it.
func DeviationCreated(d model.Deviation, lang, uiURL string, loc *time.Location) (subject, body string) {
	if _, ok := catalogue[lang]; !ok {
		lang = "nb"
	}
	if loc == nil {
		loc = time.Local
	}
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") }
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", text(lang, "intro"))
	row := func(k, v string) { fmt.Fprintf(&b, "%-22s %s\n", text(lang, k)+":", v) }
	row("id", d.ID)
	row("rule", d.Rule)
	row("severity", text(lang, "sev."+d.Severity))
	row("refs", strings.Join(d.Refs, ", "))
	row("seen", at(d.FirstSeen))
	if !d.DueAt.IsZero() {
		row("due", at(d.DueAt))
	}
	fmt.Fprintf(&b, "\n%s\n", d.Title)
	if d.PersonalData && !d.BreachDue.IsZero() {
		fmt.Fprintf(&b, "\n%s %s.\n", text(lang, "breach"), at(d.BreachDue))
	}
	if len(d.Facts) > 0 {
		fmt.Fprintf(&b, "\n%s:\n", text(lang, "facts"))
		keys := make([]string, 0, len(d.Facts))
		for k := range d.Facts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s: %s\n", k, d.Facts[k])
		}
	}
	if uiURL != "" {
		fmt.Fprintf(&b, "\n%s: %s/deviations/%s\n", text(lang, "link"), strings.TrimRight(uiURL, "/"), d.ID)
	}
	return fmt.Sprintf(text(lang, "subject"), d.ID, d.Title), b.String()
}
