package deviation

import (
	"maps"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// SecurityOfficer is the assignee every deviation goes to: the information
// security officer (S1.2).
const SecurityOfficer = "role:" + string(model.RoleSikkerhet)

// BreachWindow is how long after awareness a personal-data breach must be
// notified to Datatilsynet (GDPR Art. 33): the breach assessment's deadline.
const BreachWindow = 72 * time.Hour

// DefaultDue is the time a deviation of each severity has to be handled in,
// from when it was observed.
var DefaultDue = map[string]time.Duration{
	model.SeverityCritical: 24 * time.Hour,
	model.SeverityHigh:     72 * time.Hour,
	model.SeverityMedium:   14 * 24 * time.Hour,
	model.SeverityLow:      30 * 24 * time.Hour,
}

// UnitManager is the assignee that stands for a unit's line manager, who
// handles the unit's deviations with the security officer (S1.2).
func UnitManager(unit string) string { return "unit:" + unit + ":leder" }

// ManagedUnit returns the unit of an assignee made by UnitManager.
func ManagedUnit(assignee string) (string, bool) {
	rest, ok := strings.CutPrefix(assignee, "unit:")
	if !ok {
		return "", false
	}
	unit, ok := strings.CutSuffix(rest, ":leder")
	return unit, ok && unit != ""
}

// Route returns who a finding goes to: always the information security
// officer, and the line manager of the unit the subject belongs to when that
// unit is known ("" when not). The organisation register will resolve units
// and their managers to people; until then the unit's manager is named by
// role.
func Route(f model.Finding, unit string) []string {
	as := []string{SecurityOfficer}
	if unit != "" {
		as = append(as, UnitManager(unit))
	}
	return as
}

// SLA is the time to handle a deviation, by severity.
type SLA map[string]time.Duration

// NewSLA returns DefaultDue with the given severities' times replaced.
func NewSLA(due map[string]time.Duration) SLA {
	s := SLA(maps.Clone(DefaultDue))
	for sev, d := range due {
		if d > 0 {
			s[sev] = d
		}
	}
	return s
}

// Due returns when a deviation of severity observed at from must be handled:
// from plus the severity's time (the default one for a severity the SLA
// lacks); the zero time for an unknown severity.
func (s SLA) Due(severity string, from time.Time) time.Time {
	d, ok := s[severity]
	if !ok {
		d, ok = DefaultDue[severity]
	}
	if !ok {
		return time.Time{}
	}
	return from.Add(d)
}

// Open turns a finding into the deviation it opens: assignees by Route, the
// due date by the SLA from the time observed (now when the finding has none),
// and, where personal data may be involved, the breach deadline 72 hours
// after it.
func Open(f model.Finding, unit string, sla SLA, now time.Time) model.NewDeviation {
	from := f.At
	if from.IsZero() {
		from = now
	}
	d := model.NewDeviation{Finding: f, Assignees: Route(f, unit), DueAt: sla.Due(f.Severity, from)}
	if f.PersonalData {
		d.BreachDue = from.Add(BreachWindow)
	}
	return d
}

// open turns a finding into the deviation it opens, as Open does, with the
// assignees the configuration's Assignees gives when it is set.
func (e *Engine) open(f model.Finding, unit string, now time.Time) model.NewDeviation {
	d := Open(f, unit, e.sla, now)
	if e.cfg.Assignees != nil {
		if as := e.cfg.Assignees(unit); len(as) > 0 {
			d.Assignees = as
		}
	}
	return d
}
