package evidence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// ReportSource is what the management-review report reads: the store.
type ReportSource interface {
	model.AuditChainStore
	model.EvidenceStore
	BreachRegister(ctx context.Context) ([]model.BreachEntry, error)
	ListMapSnapshots(ctx context.Context, limit int) ([]model.MapSnapshot, error)
	GetMapSnapshot(ctx context.Context, id int64) (model.MapSnapshot, error)
}

// ReportOptions say which report to gather.
type ReportOptions struct {
	Year int
	Now  func() time.Time // nil means time.Now
}

// Limits of the lists the report shows in full.
const (
	reportMaxOpen    = 50  // open deviations listed
	reportMaxChanges = 100 // map changes listed
	reportTopActions = 12  // audit actions counted by name
)

// Count is one row of a statistic: a key and how many.
type Count struct {
	Key string
	N   int
}

// DeviationStats are the year's deviations: those created in it.
type DeviationStats struct {
	Created    int
	Closed     int // of those created, closed or rejected by now
	OpenNow    int // of those created, still open
	ByRule     []Count
	ByUnit     []Count
	BySeverity []Count
	PerMonth   [12]int
	// Time to close: from creation to the last change of a deviation that
	// was closed or rejected during the year (whenever it was created).
	ClosedInYear           int
	MedianClose, MeanClose time.Duration
}

// BreachStats are the breach assessments whose awareness time falls in the year.
type BreachStats struct {
	Total, Notified, NotifiedIn72h, NotNotified, Undecided int
}

// EquipmentStats are the year's deviations about unauthorised equipment:
// unregistered hosts, unknown devices and removable media.
type EquipmentStats struct {
	Found, Resolved int
	ByRule          []Count // found
}

// MapStats compare the configuration map at the year's start with its end.
type MapStats struct {
	Known                   bool // both ends had a snapshot
	StartAt, EndAt          time.Time
	Added, Removed, Changed int
	Changes                 []configmap.Change // the first reportMaxChanges
}

// ControlStats are the year's audit log: the controls that ran.
type ControlStats struct {
	AuditEntries int
	Exports      int // evidence bundles exported (evidence.export)
	LastExport   time.Time
	ByAction     []Count // the most frequent actions
}

// OpenItem is one open action: a deviation still open, or a breach
// assessment past its deadline.
type OpenItem struct {
	ID, Title, Rule, Severity, Status string
	Created, Due                      time.Time
	Overdue                           bool
}

// Review is the management-review report ("Rapport fra ledelsens
// gjennomgang", S11.2–S11.4) for one year.
type Review struct {
	Year            int
	From, To        time.Time // the year in Europe/Oslo, [From, To)
	Generated       time.Time
	Deviations      DeviationStats
	Breaches        BreachStats
	Equipment       EquipmentStats
	Map             MapStats
	Controls        ControlStats
	Open            []OpenItem // open deviations, most severe first, at most reportMaxOpen
	OpenTotal       int
	OpenBySeverity  []Count // the risk status: what is still open, by severity
	OverdueBreaches []OpenItem
}

// equipmentRule reports whether a rule is about unauthorised equipment.
func equipmentRule(rule string) bool {
	return rule == "unregistered-host" || rule == "unknown-device" || strings.Contains(rule, "media")
}

// severityRank orders severities, most severe first.
func severityRank(s string) int {
	switch s {
	case model.SeverityCritical:
		return 0
	case model.SeverityHigh:
		return 1
	case model.SeverityMedium:
		return 2
	case model.SeverityLow:
		return 3
	}
	return 4
}

// deviationUnit is the organisation unit a deviation concerns: the owner
// unit the rule found, else the unit whose manager is assigned; "" if none.
func deviationUnit(d model.Deviation) string {
	if u := d.Facts["owner_unit"]; u != "" {
		return u
	}
	for _, a := range d.Assignees {
		if rest, ok := strings.CutPrefix(a, "unit:"); ok {
			u, _, _ := strings.Cut(rest, ":")
			return u
		}
	}
	return ""
}

// counts turns a tally into rows, largest first, then by key.
func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// GatherReport reads the year's report from the store, streaming the
// deviations and the audit log: memory follows the number of rules, units
// and closed deviations, not the number of rows.
func GatherReport(ctx context.Context, src ReportSource, opt ReportOptions) (Review, error) {
	if opt.Year < 2000 || opt.Year > 9999 {
		return Review{}, fmt.Errorf("report year %d: want a year such as 2026: %w", opt.Year, model.ErrInvalid)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	r := Review{Year: opt.Year, Generated: now(),
		From: time.Date(opt.Year, 1, 1, 0, 0, 0, 0, Oslo), To: time.Date(opt.Year+1, 1, 1, 0, 0, 0, 0, Oslo)}
	if err := r.gatherDeviations(ctx, src); err != nil {
		return r, err
	}
	if err := r.gatherBreaches(ctx, src); err != nil {
		return r, err
	}
	if err := r.gatherMap(ctx, src); err != nil {
		return r, err
	}
	if err := r.gatherControls(ctx, src); err != nil {
		return r, err
	}
	return r, nil
}

func (r *Review) gatherDeviations(ctx context.Context, src ReportSource) error {
	ds := &r.Deviations
	byRule, byUnit, bySev, equip, open := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	var closeTimes []time.Duration
	var total time.Duration
	err := src.EachDeviationIn(ctx, r.From, r.To, func(d model.Deviation) error {
		isOpen := model.StatusOpen(d.Status)
		if isOpen {
			r.OpenTotal++
			open[d.Severity]++
			r.Open = append(r.Open, OpenItem{ID: d.ID, Title: d.Title, Rule: d.Rule, Severity: d.Severity, Status: d.Status,
				Created: d.CreatedAt, Due: d.DueAt, Overdue: !d.DueAt.IsZero() && r.Generated.After(d.DueAt)})
			if len(r.Open) > 4*reportMaxOpen {
				r.trimOpen()
			}
		} else if !d.UpdatedAt.Before(r.From) && d.UpdatedAt.Before(r.To) {
			dt := d.UpdatedAt.Sub(d.CreatedAt)
			closeTimes = append(closeTimes, dt)
			total += dt
		}
		if d.CreatedAt.Before(r.From) {
			return nil
		}
		ds.Created++
		if isOpen {
			ds.OpenNow++
		} else {
			ds.Closed++
		}
		byRule[d.Rule]++
		byUnit[deviationUnit(d)]++
		bySev[d.Severity]++
		ds.PerMonth[d.CreatedAt.In(Oslo).Month()-1]++
		if equipmentRule(d.Rule) {
			r.Equipment.Found++
			equip[d.Rule]++
			if !isOpen {
				r.Equipment.Resolved++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("report deviations: %w", err)
	}
	r.trimOpen()
	ds.ByRule, ds.ByUnit, r.Equipment.ByRule = counts(byRule), counts(byUnit), counts(equip)
	ds.BySeverity = counts(bySev)
	slices.SortStableFunc(ds.BySeverity, func(a, b Count) int { return cmp.Compare(severityRank(a.Key), severityRank(b.Key)) })
	r.OpenBySeverity = counts(open)
	slices.SortStableFunc(r.OpenBySeverity, func(a, b Count) int { return cmp.Compare(severityRank(a.Key), severityRank(b.Key)) })
	if n := len(closeTimes); n > 0 {
		ds.ClosedInYear = n
		slices.Sort(closeTimes)
		ds.MedianClose = closeTimes[n/2]
		if n%2 == 0 {
			ds.MedianClose = (closeTimes[n/2-1] + closeTimes[n/2]) / 2
		}
		ds.MeanClose = total / time.Duration(n)
	}
	return nil
}

// trimOpen keeps the reportMaxOpen most pressing open deviations: most
// severe first, then the earliest due.
func (r *Review) trimOpen() {
	slices.SortFunc(r.Open, func(a, b OpenItem) int {
		if c := cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)); c != 0 {
			return c
		}
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(r.Open) > reportMaxOpen {
		r.Open = slices.Clip(r.Open[:reportMaxOpen])
	}
}

func (r *Review) gatherBreaches(ctx context.Context, src ReportSource) error {
	reg, err := src.BreachRegister(ctx)
	if err != nil {
		return fmt.Errorf("report breaches: %w", err)
	}
	for _, e := range reg {
		d := e.Deviation
		if e.Overdue(r.Generated) {
			r.OverdueBreaches = append(r.OverdueBreaches, OpenItem{ID: d.ID, Title: d.Title, Rule: d.Rule, Severity: d.Severity,
				Status: d.Status, Created: d.BreachT0, Due: d.BreachDue, Overdue: true})
		}
		if d.BreachT0.Before(r.From) || !d.BreachT0.Before(r.To) {
			continue
		}
		b := &r.Breaches
		b.Total++
		switch {
		case e.Decision == nil:
			b.Undecided++
		case e.Decision.Decision == model.BreachNotify:
			b.Notified++
			if !e.Decision.NotifiedAt.After(d.BreachDue) {
				b.NotifiedIn72h++
			}
		default:
			b.NotNotified++
		}
	}
	return nil
}

// gatherMap diffs the configuration map at the year's start (the newest
// snapshot at or before it, else the year's first) with its end (the
// newest snapshot before the year ends).
func (r *Review) gatherMap(ctx context.Context, src ReportSource) error {
	list, err := src.ListMapSnapshots(ctx, maxSnapshots)
	if err != nil {
		return fmt.Errorf("report map snapshots: %w", err)
	}
	var start, firstIn, end *model.MapSnapshot
	for i := range list { // newest first
		s := &list[i]
		switch {
		case !s.At.After(r.From):
			if start == nil {
				start = s
			}
		case s.At.Before(r.To):
			firstIn = s // the last one seen is the year's first
		}
		if end == nil && s.At.Before(r.To) {
			end = s
		}
	}
	if start == nil {
		start = firstIn
	}
	if start == nil || end == nil || start.ID == end.ID || end.At.Before(r.From) {
		return nil
	}
	ms := make([]configmap.Map, 2)
	for i, s := range []*model.MapSnapshot{start, end} {
		full, err := src.GetMapSnapshot(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("report map snapshot %d: %w", s.ID, err)
		}
		if ms[i], err = configmap.Decode(full); err != nil {
			return fmt.Errorf("report map snapshot %d: %w", s.ID, err)
		}
	}
	m := &r.Map
	m.Known, m.StartAt, m.EndAt = true, start.At, end.At
	for _, c := range configmap.Diff(ms[0], ms[1]) {
		switch c.Op {
		case configmap.OpAdded:
			m.Added++
		case configmap.OpRemoved:
			m.Removed++
		default:
			m.Changed++
		}
		if len(m.Changes) < reportMaxChanges {
			m.Changes = append(m.Changes, c)
		}
	}
	return nil
}

// errStop ends a walk of the audit log early.
var errStop = errors.New("stop")

func (r *Review) gatherControls(ctx context.Context, src ReportSource) error {
	first, err := src.FirstAuditSeqSince(ctx, r.From)
	if err != nil {
		return fmt.Errorf("report audit log: %w", err)
	}
	if first == 0 {
		return nil
	}
	byAction := map[string]int{}
	err = src.EachAuditEntry(ctx, first, 0, func(e model.AuditEntry) error {
		if !e.At.Before(r.To) {
			return errStop
		}
		if e.At.Before(r.From) { // written late with an earlier time
			return nil
		}
		c := &r.Controls
		c.AuditEntries++
		byAction[e.Action]++
		if e.Action == AuditExport {
			c.Exports++
			c.LastExport = e.At
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("report audit log: %w", err)
	}
	all := counts(byAction)
	r.Controls.ByAction = all[:min(len(all), reportTopActions)]
	return nil
}
