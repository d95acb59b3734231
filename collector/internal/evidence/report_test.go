package evidence_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
)

var _ evidence.ReportSource = (*sqlstore.DB)(nil)

// reviewStore seeds a store with 2025's history: ten deviations (one still
// open: AVVIK-2025-7), three breach assessments (notified in time, not
// notified, undecided and overdue), two map snapshots a year apart with one
// entry added, and an evidence export.
func reviewStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	dir := t.TempDir()
	db := openStore(t, dir)
	seed(t, dir, history{hosts: 10, devEvents: 50, audit: 20})
	ctx := t.Context()
	raw := rawDB(t, dir)
	for _, id := range []string{"AVVIK-2025-3", "AVVIK-2025-4", "AVVIK-2025-5"} {
		t0 := yearFrom.AddDate(0, 3, 0)
		if _, err := raw.Exec(`UPDATE deviations SET personal_data = 1, breach_t0 = ?, breach_due = ? WHERE id = ?`,
			t0.UnixNano(), t0.Add(72*time.Hour).UnixNano(), id); err != nil {
			t.Fatal(err)
		}
	}
	t0 := yearFrom.AddDate(0, 3, 0)
	for _, d := range []model.BreachDecision{
		{DeviationID: "AVVIK-2025-3", Decision: model.BreachNotify, Rationale: "helseopplysninger", NotifiedAt: t0.Add(24 * time.Hour), DecidedBy: "kari", DecidedAt: t0.Add(24 * time.Hour)},
		{DeviationID: "AVVIK-2025-4", Decision: model.BreachNoNotify, Rationale: "kryptert", DecidedBy: "kari", DecidedAt: t0.Add(48 * time.Hour)},
	} {
		if err := db.DecideBreach(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	m, err := configmap.Build(ctx, db, configmap.BuildOptions{Options: configmap.Options{Now: yearTo.Add(-time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	start := m
	start.At = yearFrom.Add(-time.Hour)
	start.Entries = m.Entries[1:]
	for _, x := range []configmap.Map{start, m} {
		s, err := configmap.Encode(x, "system", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SaveMapSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.AppendAudit(ctx, model.AuditEvent{At: yearTo.Add(-48 * time.Hour), Actor: "revisor", Action: evidence.AuditExport}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGatherReport(t *testing.T) {
	db := reviewStore(t)
	now := time.Date(2026, 2, 1, 12, 0, 0, 0, evidence.Oslo)
	r, err := evidence.GatherReport(t.Context(), db, evidence.ReportOptions{Year: 2025, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	d := r.Deviations
	if d.Created != 10 || d.Closed != 9 || d.OpenNow != 1 || d.ClosedInYear != 9 {
		t.Errorf("deviations: created %d closed %d open %d closed in year %d; want 10, 9, 1, 9", d.Created, d.Closed, d.OpenNow, d.ClosedInYear)
	}
	// The seed closes each deviation 48 hours after it opened.
	if d.MedianClose != 48*time.Hour || d.MeanClose != 48*time.Hour {
		t.Errorf("time to close: median %v mean %v, want 48h", d.MedianClose, d.MeanClose)
	}
	sum := 0
	for _, n := range d.PerMonth {
		sum += n
	}
	if sum != 10 {
		t.Errorf("per month %v adds up to %d, want 10", d.PerMonth, sum)
	}
	if len(d.ByRule) != 4 || d.ByRule[0] != (evidence.Count{Key: "cross-zone-flow", N: 3}) {
		t.Errorf("by rule = %v", d.ByRule)
	}
	if len(d.BySeverity) != 1 || d.BySeverity[0] != (evidence.Count{Key: model.SeverityMedium, N: 10}) {
		t.Errorf("by severity = %v", d.BySeverity)
	}
	// unregistered-host (1, 5, 9) and unknown-media (4, 8), all closed.
	if e := r.Equipment; e.Found != 5 || e.Resolved != 5 {
		t.Errorf("equipment: found %d resolved %d, want 5 and 5", e.Found, e.Resolved)
	}
	if b := r.Breaches; b != (evidence.BreachStats{Total: 3, Notified: 1, NotifiedIn72h: 1, NotNotified: 1, Undecided: 1}) {
		t.Errorf("breaches = %+v", b)
	}
	if len(r.OverdueBreaches) != 1 || r.OverdueBreaches[0].ID != "AVVIK-2025-5" {
		t.Errorf("overdue breach assessments = %v, want AVVIK-2025-5", r.OverdueBreaches)
	}
	if r.OpenTotal != 1 || len(r.Open) != 1 || r.Open[0].ID != "AVVIK-2025-7" {
		t.Errorf("open actions = %d %v, want AVVIK-2025-7", r.OpenTotal, r.Open)
	}
	if m := r.Map; !m.Known || m.Added != 1 || m.Removed != 0 || len(m.Changes) != 1 {
		t.Errorf("map changes = %+v, want one added entry", m)
	}
	inYear := 0
	if err := db.EachAuditEntry(t.Context(), 1, 0, func(e model.AuditEntry) error {
		if !e.At.Before(yearFrom) && e.At.Before(yearTo) {
			inYear++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if c := r.Controls; c.AuditEntries != inYear || inYear < 21 || c.Exports != 1 {
		t.Errorf("controls: %d audit entries, %d exports; want %d (at least 21) and 1", c.AuditEntries, c.Exports, inYear)
	}
	if _, err := evidence.GatherReport(t.Context(), db, evidence.ReportOptions{Year: 26}); err == nil {
		t.Error("year 26 was taken")
	}
}

func TestReviewHTML(t *testing.T) {
	db := reviewStore(t)
	r, err := evidence.GatherReport(t.Context(), db, evidence.ReportOptions{Year: 2025})
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"":   {`<html lang="nb">`, "Rapport fra ledelsens gjennomgang 2025", "01.01.2025–31.12.2025", "Avvik opprettet i året", `<td class="num">10</td>`, "Godkjenning", "<svg", "AVVIK-2025-7"},
		"en": {`<html lang="en">`, "Management review report 2025", "Deviations opened in the year", "Sign-off", "Security officer"},
	} {
		var b bytes.Buffer
		if err := evidence.WriteReviewHTML(&b, r, lang); err != nil {
			t.Fatal(err)
		}
		html := b.String()
		for _, w := range want {
			if !strings.Contains(html, w) {
				t.Errorf("HTML (%q) lacks %q", lang, w)
			}
		}
		for _, bad := range []string{"<script", "src=", "href=", "style=\""} {
			if strings.Contains(html, bad) {
				t.Errorf("HTML (%q) is not self-contained: has %q", lang, bad)
			}
		}
	}
	if err := evidence.WriteReviewHTML(&bytes.Buffer{}, r, "de"); err == nil {
		t.Error("language de was taken")
	}
}

// needTool finds a command the test needs: skipped naming the Debian
// package when missing, failed under CI=true.
func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	why := tool + " is missing: install the Debian package " + pkg + " (scripts/test-deps.sh)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run under CI: %s", why)
	}
	t.Skip(why)
	return ""
}

func TestReviewPDF(t *testing.T) {
	pdftoppm := needTool(t, "pdftoppm", "poppler-utils")
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	db := reviewStore(t)
	r, err := evidence.GatherReport(t.Context(), db, evidence.ReportOptions{Year: 2025})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, lang := range []string{"nb", "en"} {
		pdf := filepath.Join(dir, "review-"+lang+".pdf")
		f, err := os.Create(pdf)
		if err != nil {
			t.Fatal(err)
		}
		if err := evidence.WriteReviewPDF(f, r, lang); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if d := os.Getenv("SONEVAKT_REVIEW_KEEP"); d != "" { // for a look by eye
			b, _ := os.ReadFile(pdf)
			_ = os.WriteFile(filepath.Join(d, filepath.Base(pdf)), b, 0o644)
		}
		// Page 1 renders as an image.
		prefix := filepath.Join(dir, "page-"+lang)
		if out, err := exec.Command(pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", pdf, prefix).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
		pngs, _ := filepath.Glob(prefix + "*.png")
		if len(pngs) != 1 {
			t.Fatalf("pdftoppm wrote %v, want one page image", pngs)
		}
		if st, err := os.Stat(pngs[0]); err != nil || st.Size() < 1000 {
			t.Errorf("page 1 image %s: %v, %d bytes", pngs[0], err, st.Size())
		}
		// The text holds the period and the deviation counts, with æøå intact.
		out, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		txt := string(out)
		want := map[string][]string{
			"nb": {"Rapport fra ledelsens gjennomgang 2025", "01.01.2025–31.12.2025", `Avvik opprettet i året\s+10\b`,
				`Av disse lukket eller avvist\s+9\b`, `Av disse fortsatt åpne\s+1\b`, `Median tid til lukking\s+2,0 døgn`,
				`Meldt til Datatilsynet\s+1\b`, "Godkjenning", "Sikkerhetsleder", "AVVIK-2025-7", "Side 1 av"},
			"en": {"Management review report 2025", "2025-01-01 to 2025-12-31", `Deviations opened in the year\s+10\b`, "Sign-off"},
		}[lang]
		for _, w := range want {
			if !regexp.MustCompile(w).MatchString(txt) {
				t.Errorf("PDF text (%s) lacks %q\n%s", lang, w, txt)
			}
		}
	}
}
