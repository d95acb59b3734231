package web

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Limits of the overview.
const (
	overviewListRows   = 10      // entries named per map block
	overviewBreachRows = 10      // breach clocks shown
	overviewDevLimit   = 1 << 20 // open deviations counted
)

// ovSeverities are the severities the overview counts, most severe first.
var ovSeverities = []string{model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow}

// ovSeverity is the count of open deviations of one severity.
type ovSeverity struct {
	Severity, Label, Href string
	N                     int64
}

// ovDeviations are the open deviations the user may see, by severity.
type ovDeviations struct {
	Open       int
	BySeverity []ovSeverity
	Href       string
}

// ovBreach is one running breach clock: an open deviation with personal
// data and no decision yet.
type ovBreach struct {
	ID, Title string
	Due       time.Time
	Left      time.Duration // negative: past the deadline
	LeftText  string
	Overdue   bool
}

// ovEntries is one block of map entries in a state.
type ovEntries struct {
	N       int
	Entries []mapRow
	Href    string
}

// ovCoverage is how many registered assets have a reporting agent.
type ovCoverage struct {
	Registered, Reporting int
	Percent               float64
	// For the page: the sentence, the percentage as text, and the
	// meter's low and high marks (80 % and 95 %).
	Line, PercentText string
	Low, High         int
}

// overview is what needs attention now.
type overview struct {
	At         time.Time
	Deviations *ovDeviations // nil for a role that may not read deviations
	Breaches   []ovBreach    // nil for a role that may not read deviations
	BreachN    int
	HasMap     bool
	Silent     ovEntries
	Unreg      ovEntries
	Conflict   ovEntries
	Coverage   ovCoverage
	Tasks      []ovTask // the yearly duties; nil for a role that may not read deviations
}

// timeLeft says how long until (or since) a deadline, in days, hours and
// minutes, in lang.
func timeLeft(lang string, d time.Duration) string {
	key := "overview.left"
	if d < 0 {
		key, d = "overview.over", -d
	}
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var span string
	switch {
	case days > 0:
		span = translatef(lang, "overview.span.dh", days, hours)
	case hours > 0:
		span = translatef(lang, "overview.span.hm", hours, mins)
	default:
		span = translatef(lang, "overview.span.m", mins)
	}
	return translatef(lang, key, span)
}

// reporting reports whether an asset entry has an agent that reports: it is
// matched, or in conflict with an agent seen within the silence threshold.
func reporting(e configmap.Entry, at time.Time) bool {
	if e.Kind != configmap.KindAsset {
		return false
	}
	return e.State == configmap.Matched ||
		(e.State == configmap.Conflict && len(e.AgentIDs) > 0 && !e.LastSeen.IsZero() && at.Sub(e.LastSeen) <= configmap.DefaultSilentAfter)
}

// coverageOf counts the registered assets of m and those with a reporting agent.
func coverageOf(m configmap.Map) ovCoverage {
	var c ovCoverage
	for _, e := range m.Entries {
		if e.Kind != configmap.KindAsset {
			continue
		}
		c.Registered++
		if reporting(e, m.At) {
			c.Reporting++
		}
	}
	if c.Registered > 0 {
		c.Percent = math.Round(1000*float64(c.Reporting)/float64(c.Registered)) / 10
	}
	return c
}

// buildOverview gathers the overview for the signed-in user.
func (s *Server) buildOverview(ctx context.Context) (overview, error) {
	lang := langFrom(ctx)
	p := principalFrom(ctx)
	now := s.now()
	v := overview{At: now}
	if p != nil && s.allowed(p.Role, "GET /deviations") {
		ds, err := s.listDeviations(ctx, p, model.DeviationQuery{Status: "open", Limit: overviewDevLimit})
		if err != nil {
			return v, err
		}
		dv := &ovDeviations{Open: len(ds), Href: "/deviations?status=open"}
		counts := map[string]int64{}
		for _, d := range ds {
			counts[d.Severity]++
		}
		for _, sev := range ovSeverities {
			q := url.Values{"status": {"open"}, "severity": {sev}}
			dv.BySeverity = append(dv.BySeverity, ovSeverity{Severity: sev, N: counts[sev],
				Label: translateOr(lang, "severity."+sev, sev), Href: "/deviations?" + q.Encode()})
		}
		v.Deviations = dv
		v.Breaches = []ovBreach{}
		reg, err := s.breachRegister(ctx, p)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return v, err
		}
		for _, b := range reg {
			d := b.Deviation
			if b.Decision != nil || !model.StatusOpen(d.Status) || d.BreachDue.IsZero() {
				continue
			}
			left := d.BreachDue.Sub(now)
			v.Breaches = append(v.Breaches, ovBreach{ID: d.ID, Title: d.Title, Due: d.BreachDue, Left: left,
				LeftText: timeLeft(lang, left), Overdue: left < 0})
		}
		slices.SortFunc(v.Breaches, func(a, b ovBreach) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.ID, b.ID)) })
		v.BreachN = len(v.Breaches)
		v.Breaches = v.Breaches[:min(len(v.Breaches), overviewBreachRows)]
		v.Tasks = s.dutyTasks(ctx, lang)
	}
	if s.configMap == nil {
		return v, nil
	}
	m, err := s.currentMap(ctx)
	if err != nil {
		return v, err
	}
	v.HasMap = true
	for _, b := range []struct {
		st  configmap.State
		dst *ovEntries
	}{{configmap.Silent, &v.Silent}, {configmap.Unregistered, &v.Unreg}, {configmap.Conflict, &v.Conflict}} {
		b.dst.N = m.Counts[b.st]
		b.dst.Href = "/configmap?" + url.Values{"state": {string(b.st)}}.Encode()
		for _, e := range m.Entries {
			if len(b.dst.Entries) == overviewListRows {
				break
			}
			if e.State == b.st {
				b.dst.Entries = append(b.dst.Entries, newMapRow(lang, e))
			}
		}
	}
	v.Coverage = coverageOf(m)
	c := &v.Coverage
	f := formatter{lang: lang, now: s.now}
	c.PercentText = strings.Replace(strconv.FormatFloat(c.Percent, 'f', 1, 64), ".", translate(lang, "overview.decimal"), 1) + "\u00a0%"
	c.Line = translatef(lang, "overview.coverage_line", f.num(int64(c.Reporting)), f.num(int64(c.Registered)))
	c.Low, c.High = c.Registered*80/100, c.Registered*95/100
	return v, nil
}

func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request) {
	v, err := s.buildOverview(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "overview", pageData{Title: "overview.title", Nav: "overview",
		Live: "hosts,deviations,map,agents", Data: v})
}

// API.

type apiOvEntries struct {
	Count   int      `json:"count"`
	Entries []string `json:"entries"` // keys of the first few
}

type apiOverview struct {
	At         string `json:"at"`
	Deviations *struct {
		Open       int            `json:"open"`
		BySeverity map[string]int `json:"by_severity"`
	} `json:"deviations,omitempty"`
	Breaches []apiOvBreach `json:"breach_clocks,omitzero"`
	Map      *struct {
		Silent       apiOvEntries `json:"silent"`
		Unregistered apiOvEntries `json:"unregistered"`
		Conflict     apiOvEntries `json:"conflict"`
		Coverage     ovCoverageJS `json:"coverage"`
	} `json:"map,omitempty"`
}

type apiOvBreach struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	BreachDue   string `json:"breach_due"`
	SecondsLeft int64  `json:"seconds_left"`
	Overdue     bool   `json:"overdue"`
}

type ovCoverageJS struct {
	Registered int     `json:"registered"`
	Reporting  int     `json:"reporting"`
	Percent    float64 `json:"percent"`
}

func ovKeys(b ovEntries) apiOvEntries {
	out := apiOvEntries{Count: b.N, Entries: make([]string, 0, len(b.Entries))}
	for _, e := range b.Entries {
		out.Entries = append(out.Entries, e.Key)
	}
	return out
}

func (s *Server) handleAPIOverview(w http.ResponseWriter, r *http.Request) {
	v, err := s.buildOverview(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := apiOverview{At: apiTime(v.At)}
	if v.Deviations != nil {
		out.Deviations = &struct {
			Open       int            `json:"open"`
			BySeverity map[string]int `json:"by_severity"`
		}{Open: v.Deviations.Open, BySeverity: map[string]int{}}
		for _, sv := range v.Deviations.BySeverity {
			out.Deviations.BySeverity[sv.Severity] = int(sv.N)
		}
		out.Breaches = make([]apiOvBreach, 0, len(v.Breaches))
		for _, b := range v.Breaches {
			out.Breaches = append(out.Breaches, apiOvBreach{ID: b.ID, Title: b.Title, BreachDue: apiTime(b.Due),
				SecondsLeft: int64(b.Left / time.Second), Overdue: b.Overdue})
		}
	}
	if v.HasMap {
		out.Map = &struct {
			Silent       apiOvEntries `json:"silent"`
			Unregistered apiOvEntries `json:"unregistered"`
			Conflict     apiOvEntries `json:"conflict"`
			Coverage     ovCoverageJS `json:"coverage"`
		}{ovKeys(v.Silent), ovKeys(v.Unreg), ovKeys(v.Conflict), ovCoverageJS{v.Coverage.Registered, v.Coverage.Reporting, v.Coverage.Percent}}
	}
	writeJSON(w, http.StatusOK, out)
}
