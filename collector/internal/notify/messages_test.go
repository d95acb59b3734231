package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestDeviationCreated(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	d := model.Deviation{ID: "AVVIK-2026-7", Rule: "unmarked-media", Title: "Unmarked medium", Severity: model.SeverityHigh,
		Refs: []string{"S6.1"}, FirstSeen: at, DueAt: at.Add(72 * time.Hour), PersonalData: true, BreachDue: at.Add(72 * time.Hour),
		Facts: map[string]string{"labels": "PRIVAT", "encrypted": "no"}}
	subj, body := DeviationCreated(d, "nb", "https://sonevakt.example:8443/", time.UTC)
	for _, want := range []string{"Nytt avvik AVVIK-2026-7", "Unmarked medium"} {
		if !strings.Contains(subj, want) {
			t.Errorf("subject %q lacks %q", subj, want)
		}
	}
	for _, want := range []string{"Alvorlighet:", "høy", "S6.1", "Bruddvurdering", "2026-11-29 10:00 UTC", "labels: PRIVAT",
		"https://sonevakt.example:8443/deviations/AVVIK-2026-7"} {
		if !strings.Contains(body, want) {
			t.Errorf("nb body lacks %q:\n%s", want, body)
		}
	}
	subj, body = DeviationCreated(model.Deviation{ID: "AVVIK-2026-8", Title: "Unknown medium", Severity: model.SeverityMedium, FirstSeen: at}, "en", "", time.UTC)
	if !strings.Contains(subj, "New deviation AVVIK-2026-8") || !strings.Contains(body, "Severity:") || strings.Contains(body, "breach") || strings.Contains(body, "/deviations/") {
		t.Errorf("en message:\n%s\n%s", subj, body)
	}
}

// TestCatalogueComplete: both languages hold the same keys.
func TestCatalogueComplete(t *testing.T) {
	for k := range catalogue["nb"] {
		if _, ok := catalogue["en"][k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	for k := range catalogue["en"] {
		if _, ok := catalogue["nb"][k]; !ok {
			t.Errorf("nb lacks %q", k)
		}
	}
}

func TestBreachOverdue(t *testing.T) {
	d := model.Deviation{ID: "AVVIK-2026-9", Rule: "unmarked-media", Title: "Unmarked removable medium", Severity: model.SeverityHigh,
		PersonalData: true, FirstSeen: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), BreachDue: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	for lang, want := range map[string][]string{
		"nb": {"[Sonevakt] Bruddvurdering over fristen AVVIK-2026-9: Unmarked removable medium", "Datatilsynet (GDPR art. 33) er passert"},
		"en": {"[Sonevakt] Breach assessment overdue AVVIK-2026-9: Unmarked removable medium", "has passed, and no decision is recorded"},
	} {
		subject, body := BreachOverdue(d, lang, "https://sonevakt.example", time.UTC)
		if subject != want[0] || !strings.Contains(body, want[1]) || !strings.Contains(body, "2026-11-23 08:00 UTC") ||
			!strings.Contains(body, "https://sonevakt.example/deviations/AVVIK-2026-9") {
			t.Errorf("%s: BreachOverdue = %q\n%s", lang, subject, body)
		}
	}
	// A new deviation's mail is unchanged by the variant.
	if subject, body := DeviationCreated(d, "nb", "", time.UTC); !strings.HasPrefix(subject, "[Sonevakt] Nytt avvik") || strings.Contains(body, "passert") {
		t.Errorf("DeviationCreated = %q\n%s", subject, body)
	}
}
