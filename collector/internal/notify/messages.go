package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// catalogue holds every text a notification shows, by language.
var catalogue = map[string]map[string]string{
	"nb": {
		"subject":         "[Sonevakt] Nytt avvik %s: %s",
		"intro":           "Sonevakt har åpnet et avvik som er tildelt deg.",
		"subject.overdue": "[Sonevakt] Bruddvurdering over fristen %s: %s",
		"intro.overdue":   "Fristen på 72 timer for å vurdere om bruddet skal meldes til Datatilsynet (GDPR art. 33) er passert, og ingen beslutning er registrert for dette avviket.",
		"id":              "Avvik",
		"rule":            "Regel",
		"severity":        "Alvorlighet",
		"refs":            "Strategikrav",
		"seen":            "Observert",
		"due":             "Frist",
		"breach":          "Personopplysninger kan være berørt. Bruddvurdering (72 timer) må gjøres innen",
		"facts":           "Hva regelen så",
		"link":            "Behandle avviket",
		"sev.low":         "lav",
		"sev.medium":      "middels",
		"sev.high":        "høy",
		"sev.critical":    "kritisk",
	},
	"en": {
		"subject":         "[Sonevakt] New deviation %s: %s",
		"intro":           "Sonevakt opened a deviation assigned to you.",
		"subject.overdue": "[Sonevakt] Breach assessment overdue %s: %s",
		"intro.overdue":   "The 72-hour deadline to decide whether to notify Datatilsynet of the breach (GDPR Art. 33) has passed, and no decision is recorded for this deviation.",
		"id":              "Deviation",
		"rule":            "Rule",
		"severity":        "Severity",
		"refs":            "Strategy requirements",
		"seen":            "Observed",
		"due":             "Due",
		"breach":          "Personal data may be involved. The breach assessment (72 hours) is due by",
		"facts":           "What the rule saw",
		"link":            "Handle the deviation",
		"sev.low":         "low",
		"sev.medium":      "medium",
		"sev.high":        "high",
		"sev.critical":    "critical",
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
	return deviationMail(d, lang, uiURL, loc, "")
}

// BreachOverdue is the e-mail telling a recipient that a deviation's breach
// assessment passed its 72-hour deadline without a decision, in the form of
// DeviationCreated.
func BreachOverdue(d model.Deviation, lang, uiURL string, loc *time.Location) (subject, body string) {
	return deviationMail(d, lang, uiURL, loc, ".overdue")
}

// deviationMail writes a deviation's e-mail; variant picks the subject and
// introduction ("" for a new deviation).
func deviationMail(d model.Deviation, lang, uiURL string, loc *time.Location, variant string) (subject, body string) {
	if _, ok := catalogue[lang]; !ok {
		lang = "nb"
	}
	if loc == nil {
		loc = time.Local
	}
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") }
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", text(lang, "intro"+variant))
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
	return fmt.Sprintf(text(lang, "subject"+variant), d.ID, d.Title), b.String()
}

// Webhook events.
const (
	// EventDeviationCreated is sent once when a deviation opens.
	EventDeviationCreated = "deviation.created"
)

// Events lists every webhook event, for configuration to check names against.
var Events = []string{EventDeviationCreated}

// WebhookDeviation is the JSON body of a deviation event. Times are RFC 3339
// in UTC; optional fields are left out when empty.
type WebhookDeviation struct {
	Event        string    `json:"event"` // EventDeviationCreated
	ID           string    `json:"id"`    // AVVIK-<year>-<n>
	Rule         string    `json:"rule"`
	Subject      string    `json:"subject"`
	AgentID      string    `json:"agent_id,omitempty"`
	Severity     string    `json:"severity"`
	Title        string    `json:"title"` // English; Summary is in the webhook's language
	Refs         []string  `json:"refs"`  // strategy ids
	Status       string    `json:"status"`
	Assignees    []string  `json:"assignees"`
	CreatedAt    time.Time `json:"created_at"`
	DueAt        time.Time `json:"due_at,omitzero"`
	PersonalData bool      `json:"personal_data"`
	BreachDue    time.Time `json:"breach_due,omitzero"` // the 72-hour breach assessment deadline
	Link         string    `json:"link,omitempty"`      // the deviation in the UI
	Lang         string    `json:"lang"`
	Summary      string    `json:"summary"` // one line, as the e-mail's subject
}

// DeviationWebhook is the webhook body telling of a new deviation, its
// summary in lang (nb when unknown); uiURL, when set, gives the link.
func DeviationWebhook(d model.Deviation, lang, uiURL string) ([]byte, error) {
	if _, ok := catalogue[lang]; !ok {
		lang = "nb"
	}
	summary, _ := DeviationCreated(d, lang, "", time.UTC)
	w := WebhookDeviation{
		Event: EventDeviationCreated, ID: d.ID, Rule: d.Rule, Subject: d.Subject, AgentID: d.AgentID,
		Severity: d.Severity, Title: d.Title, Refs: nonNil(d.Refs), Status: d.Status, Assignees: nonNil(d.Assignees),
		CreatedAt: d.CreatedAt.UTC(), DueAt: d.DueAt.UTC(), PersonalData: d.PersonalData, BreachDue: d.BreachDue.UTC(),
		Lang: lang, Summary: summary,
	}
	if uiURL != "" {
		w.Link = strings.TrimRight(uiURL, "/") + "/deviations/" + d.ID
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode webhook for %s: %w", d.ID, err)
	}
	return b, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
