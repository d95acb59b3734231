package model

import (
	"context"
	"strings"
	"time"
)

// Deviation statuses (the strategy's own words).
const (
	StatusNew      = "ny"
	StatusHandling = "under behandling"
	StatusClosed   = "lukket"
	StatusRejected = "avvist"
)

// Open reports whether a status is still open.
func StatusOpen(s string) bool { return s == StatusNew || s == StatusHandling }

// Severities, lowest first.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Timeline event types of a deviation.
const (
	TimelineCreated      = "created"
	TimelineOccurrence   = "occurrence"
	TimelineComment      = "comment"
	TimelineAssignment   = "assignment"
	TimelineStatus       = "status"
	TimelineNotification = "notification"
)

// EvidenceRef points at a stored record that caused a finding.
type EvidenceRef struct {
	AgentID string `json:"agent_id"`
	Seq     uint64 `json:"seq"`
	Kind    string `json:"kind"`
}

// Finding is what a rule says about one subject, before dedupe.
type Finding struct {
	Rule     string // rule name from the catalogue, e.g. "unknown-media"
	Subject  string // what the finding is about, stable across occurrences: "media:0781:5583:4C53…"
	AgentID  string // the host where it was seen, "" when none
	Title    string // one line, English; the UI renders from Rule and Facts
	Severity string
	Refs     []string // strategy ids: S1.3, S6.1 …
	// PersonalData: personal data may be involved, so a breach assessment
	// (72-hour clock from At) opens with the deviation.
	PersonalData bool
	At           time.Time         // when it was observed
	Facts        map[string]string // what the rule looked at, shown in the deviation
	Evidence     []EvidenceRef
}

// Deviation is an avvik: one open case per rule and subject, with occurrences.
type Deviation struct {
	ID       string // AVVIK-<year>-<n>
	Rule     string
	Subject  string
	AgentID  string
	Title    string
	Severity string
	Refs     []string
	Status   string
	// Assignees say who handles it: "role:<role>" (e.g. role:sikkerhet),
	// "user:<name>" (a UI user, assigned by hand), "person:<id>" (a person of
	// the organisation register), "unit:<id>:leder" (the unit's manager).
	Assignees    []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DueAt        time.Time
	FirstSeen    time.Time
	LastSeen     time.Time
	Count        int // occurrences
	PersonalData bool
	BreachT0     time.Time // awareness time; zero unless PersonalData
	BreachDue    time.Time // T0 + 72 h
	Facts        map[string]string
	Evidence     []EvidenceRef // newest occurrences' records, at most 50
}

// TimelineEvent is one entry of a deviation's append-only timeline.
type TimelineEvent struct {
	Seq    int64 // per store, increasing
	At     time.Time
	Actor  string
	Type   string // Timeline…
	Text   string
	Detail string // JSON
}

// NewDeviation is a finding that opens a deviation: the finding plus what
// routing and the SLA decided.
type NewDeviation struct {
	Finding
	Assignees []string
	DueAt     time.Time
	BreachDue time.Time // zero unless PersonalData
}

// DeviationQuery selects deviations, newest first.
type DeviationQuery struct {
	Status  string // "" for all, "open" for ny and under behandling, or one status
	Rule    string
	AgentID string
	Subject string
	// Severity is "" for all or one of the Severity constants.
	Severity string
	Limit    int // must be positive
}

// Judged names what the rules judged, for RecordFindings to mark in the
// transaction that stores their findings. Ids that are unknown or already
// judged are ignored.
type Judged struct {
	Media []int64 // MediaEvent ids
	Flows []int64 // FlowHour ids
}

// RecordResult says what RecordFindings did with one finding.
type RecordResult struct {
	ID      string // the deviation's id
	Created bool   // a new deviation; false: an occurrence of an open one
	// Escalated: the breach deadline passed without a decision (reported
	// once per deviation, with nothing else set but ID).
	Escalated bool
}

// DeviationStore keeps deviations and their timelines.
type DeviationStore interface {
	// RecordFindings stores findings in one transaction: a finding whose rule
	// and subject have an open deviation adds an occurrence to it (count,
	// last seen, evidence); otherwise a new deviation opens with the next id
	// of its year (AVVIK-<year>-<n>, n from 1 per year), a "created" timeline
	// entry and an audit entry. The media events and hourly flows named in
	// judged are marked judged in the same transaction, so a crash never
	// loses or doubles a finding. One open deviation per rule and subject holds
	// across restarts and replicas (a unique constraint). An occurrence on
	// another agent than the deviation's adds an "occurrence" timeline entry
	// the first time that agent appears. ErrInvalid, storing nothing, for a
	// finding without rule or subject or with an unknown severity.
	RecordFindings(ctx context.Context, fs []NewDeviation, judged Judged, now time.Time) ([]RecordResult, error)
	// GetDeviation returns a deviation and its timeline (oldest first).
	GetDeviation(ctx context.Context, id string) (Deviation, []TimelineEvent, error)
	ListDeviations(ctx context.Context, q DeviationQuery) ([]Deviation, error)
	// SetDeviationStatus moves a deviation: ny -> under behandling -> lukket,
	// or ny/under behandling -> avvist; ErrInvalid for any other step or an
	// empty reason when closing or rejecting. Timeline and audit log record
	// who and why.
	SetDeviationStatus(ctx context.Context, id, status, actor, reason string, now time.Time) error
	// CommentDeviation appends a comment to the timeline (and the audit log).
	CommentDeviation(ctx context.Context, id, actor, text string, now time.Time) error
	// AssignDeviation replaces the assignees of an open deviation (see
	// Deviation.Assignees for their form), with an "assignment" timeline
	// entry and an audit entry in one transaction. ErrNotFound for an
	// unknown id; ErrInvalid for a closed or rejected deviation, no
	// assignees, or one not of a known form.
	AssignDeviation(ctx context.Context, id string, assignees []string, actor string, now time.Time) error
}

// ValidAssignee reports whether a is of one of the forms Deviation.Assignees
// names, with a non-empty name.
func ValidAssignee(a string) bool {
	kind, name, ok := strings.Cut(a, ":")
	if !ok || name == "" || strings.TrimSpace(a) != a {
		return false
	}
	switch kind {
	case "role":
		return Role(name).Valid()
	case "user", "person":
		return true
	case "unit":
		unit, rest, ok := strings.Cut(name, ":")
		return unit != "" && (!ok || rest == "leder")
	}
	return false
}
