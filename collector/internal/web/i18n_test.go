package web

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestCatalogueParity(t *testing.T) {
	nb, en := catalogs["nb"], catalogs["en"]
	for _, lang := range languages {
		if catalogs[lang] == nil {
			t.Fatalf("no catalogue for %s", lang)
		}
	}
	for _, pair := range [][2]string{{"nb", "en"}, {"en", "nb"}} {
		a, b := catalogs[pair[0]], catalogs[pair[1]]
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if _, ok := b[k]; !ok {
				t.Errorf("key %q is in %s but not in %s", k, pair[0], pair[1])
			}
		}
	}
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	for k, v := range nb {
		if strings.TrimSpace(v) == "" || strings.TrimSpace(en[k]) == "" {
			t.Errorf("key %q has an empty message", k)
		}
		if a, b := verbs.FindAllString(v, -1), verbs.FindAllString(en[k], -1); !slices.Equal(a, b) {
			t.Errorf("key %q: nb has verbs %q, en has %q", k, a, b)
		}
	}
}

// templateKey finds the catalogue keys the templates name literally.
var templateKey = regexp.MustCompile(`\{\{-?\s*(?:[^}]*\()?\s*(t|tf|tn)\s+"([^"]+)"`)

func TestCatalogueCoversUsedKeys(t *testing.T) {
	var used []string
	files, _ := fs.Glob(assets, "templates/*.html")
	if len(files) == 0 {
		t.Fatal("no templates embedded")
	}
	for _, f := range files {
		b, err := fs.ReadFile(assets, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKey.FindAllStringSubmatch(string(b), -1) {
			if m[1] == "tn" {
				used = append(used, m[2]+".one", m[2]+".other")
			} else {
				used = append(used, m[2])
			}
		}
	}
	if !slices.Contains(used, "hosts.title") {
		t.Fatalf("key scan found %d keys but not hosts.title; the scanner is broken", len(used))
	}
	// Keys the Go code picks at run time.
	for _, err := range []error{errUnauthorized, errCSRF, model.ErrNotFound, model.ErrInvalid, model.ErrForbidden,
		model.ErrConflict, model.ErrRateLimited, errTooLarge, errMediaType, errDisk} {
		_, key := errorStatus(err)
		used = append(used, key, key+".title")
	}
	used = append(used, msgBadCredentials, msgRateLimited, msgLoginCSRF, "time.never",
		"ago.seconds", "ago.minutes", "ago.hours", "ago.days")
	for _, r := range model.Roles {
		used = append(used, "role."+string(r))
	}
	for _, l := range languages {
		used = append(used, "lang."+l)
	}
	for _, lang := range languages {
		for _, k := range used {
			if _, ok := catalogs[lang][k]; !ok {
				t.Errorf("catalogue %s lacks key %q", lang, k)
			}
		}
	}
}

// visibleText returns the text of a template that a person would read and
// that does not come from a template action: text nodes, and attributes that
// browsers show or read aloud. Punctuation and symbols alone are allowed.
func visibleText(src string) []string {
	actions := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	comments := regexp.MustCompile(`(?s)<!--.*?-->`)
	tags := regexp.MustCompile(`(?s)<[^>]*>`)
	attrs := regexp.MustCompile(`(?i)\b(title|alt|aria-label|aria-description|placeholder|value|label)\s*=\s*"([^"]*)"`)
	src = comments.ReplaceAllString(actions.ReplaceAllString(src, ""), "")

	var out []string
	wordy := func(s string) bool {
		return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
	}
	for _, tag := range tags.FindAllString(src, -1) {
		for _, m := range attrs.FindAllStringSubmatch(tag, -1) {
			if wordy(m[2]) {
				out = append(out, m[1]+"="+m[2])
			}
		}
	}
	for _, text := range tags.Split(src, -1) {
		if s := strings.TrimSpace(text); wordy(s) {
			out = append(out, s)
		}
	}
	return out
}

func TestVisibleTextScanner(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
	}{
		{`<p>{{t "a"}}</p>`, 0},
		{`<p>{{.X}} · {{.Y}} (–)</p>`, 0},
		{`<p>Hei</p>`, 1},
		{`<button aria-label="Lukk">{{t "x"}}</button>`, 1},
		{`<input type="submit" value="Send">`, 1},
		{`<a title="{{t "x"}}" href="/hosts">{{t "y"}}</a>`, 0},
		{`<p>{{if .X}}Yes{{end}}</p>`, 1},
		{`<!-- a note --><meta name="viewport" content="width=device-width">`, 0},
		{`<td>{{.MinSeq}}–{{.MaxSeq}}</td><td>404</td>`, 1},
	} {
		if got := visibleText(tc.src); len(got) != tc.want {
			t.Errorf("visibleText(%q) = %q, want %d findings", tc.src, got, tc.want)
		}
	}
}

func TestTemplatesHaveNoLiteralText(t *testing.T) {
	files, _ := fs.Glob(assets, "templates/*.html")
	for _, f := range files {
		b, err := fs.ReadFile(assets, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range visibleText(string(b)) {
			t.Errorf("%s: visible text outside the catalogue: %q", f, s)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", "nb"},
		{"en", "en"},
		{"en-US,en;q=0.9", "en"},
		{"nn-NO,en;q=0.5", "nb"},
		{"no", "nb"},
		{"de-DE,de;q=0.9,en;q=0.3", "en"},
		{"en;q=0.4,nb;q=0.8", "nb"},
		{"fr", "nb"},
		{"en;q=0", "nb"},
		{"EN-gb", "en"},
	} {
		if got := acceptLanguage(tc.header); got != tc.want {
			t.Errorf("acceptLanguage(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestFormatter(t *testing.T) {
	e := newEnv(t, false)
	now := e.clock.now()
	nb, en := formatter{"nb", e.clock.now}, formatter{"en", e.clock.now}
	for _, tc := range []struct{ got, want string }{
		{nb.ago(now.Add(-12 * time.Second)), "for 12 s siden"},
		{en.ago(now.Add(-12 * time.Second)), "12 s ago"},
		{nb.ago(now.Add(-5 * time.Minute)), "for 5 min siden"},
		{nb.ago(now.Add(-3 * time.Hour)), "for 3 t siden"},
		{en.ago(now.Add(-72 * time.Hour)), "3 d ago"},
		{nb.ago(now.Add(5 * time.Second)), "for 0 s siden"}, // a clock ahead of ours
		{nb.ago(time.Time{}), "aldri"},
		{nb.num(1234567), "1\u00a0234\u00a0567"},
		{en.num(1234567), "1,234,567"},
		{en.num(-1234), "-1,234"},
		{nb.num(999), "999"},
		{nb.bytes(16 << 30), "16,0\u00a0GiB"},
		{en.bytes(1536), "1.5\u00a0KiB"},
		{en.bytes(512), "512\u00a0B"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestCatalogueCoversRuntimeKeys checks the keys the Go code builds at run
// time (statuses, rules, media words) and every key it names literally in
// refuse, translate and translatef.
func TestCatalogueCoversRuntimeKeys(t *testing.T) {
	var keys []string
	for _, st := range statuses {
		keys = append(keys, statusKey(st))
	}
	for _, r := range knownRules {
		keys = append(keys, "rule."+r)
	}
	for _, sev := range []string{model.SeverityLow, model.SeverityMedium, model.SeverityHigh, model.SeverityCritical} {
		keys = append(keys, "severity."+sev)
	}
	for _, tl := range []string{model.TimelineCreated, model.TimelineOccurrence, model.TimelineComment, model.TimelineAssignment,
		model.TimelineStatus, model.TimelineNotification} {
		keys = append(keys, "timeline."+tl)
	}
	for _, k := range []wire.Kind{wire.KindHello, wire.KindInventory, wire.KindMedia, wire.KindFlows, wire.KindNeighbours, wire.KindSockets, wire.KindHealth} {
		keys = append(keys, "evidence.kind."+string(k))
	}
	for _, a := range []string{wire.MediaPresent, wire.MediaAdd, wire.MediaRemove, wire.MediaMount, wire.MediaUnmount} {
		keys = append(keys, "media.action."+a)
	}
	for _, c := range []string{wire.MediaUSBStorage, wire.MediaMemoryCard, wire.MediaOptical, wire.MediaLoop} {
		keys = append(keys, "media.class."+c)
	}
	for _, r := range []string{wire.MediaRuleRegister, wire.MediaRuleAuditDefault, wire.MediaRuleBlockDefault, wire.MediaRuleClassExempt} {
		keys = append(keys, "media.rule."+r)
	}
	for _, v := range []string{wire.VerdictAllow, wire.VerdictBlock} {
		keys = append(keys, "media.verdict."+v)
	}
	for _, m := range []string{wire.MediaModeAudit, wire.MediaModeBlock} {
		keys = append(keys, "media.mode."+m)
	}
	for _, m := range []string{wire.MarkingLabel, wire.MarkingFile} {
		keys = append(keys, "media.marking."+m)
	}
	for _, enc := range []string{"yes", "no", "unknown"} {
		keys = append(keys, "media.encrypted."+enc)
	}
	for _, m := range []string{"merge", "replace"} {
		keys = append(keys, "register.mode."+m, "register.mode."+m+".hint")
	}
	for _, o := range []string{sortNewest, sortLastSeen, sortDue} {
		keys = append(keys, "dev.sort."+o)
	}
	keys = append(keys, "dev.saved.status", "dev.saved.comment", "dev.filter.open", "dev.filter.all", "dev.filter.all_rules")

	// Keys named literally in the Go code.
	literal := regexp.MustCompile(`(?:refuse\([^,]+,|translatef?\([^,]+,|translateOr\([^,]+,)\s*"([a-z_.]+)"`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") { // a prefix, completed at run time
				keys = append(keys, m[1])
				found++
			}
		}
	}
	if found < 20 {
		t.Fatalf("found %d literal keys in the Go code; the scan is broken", found)
	}
	for _, lang := range languages {
		for _, k := range keys {
			if _, ok := catalogs[lang][k]; !ok {
				t.Errorf("catalogue %s lacks key %q", lang, k)
			}
		}
	}
}
