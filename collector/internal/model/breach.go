package model

import (
	"context"
	"time"
)

// Breach decisions: notify Datatilsynet (GDPR Art. 33) or not.
const (
	BreachNotify   = "notify"
	BreachNoNotify = "no-notify"
)

// Timeline entries of the breach assessment.
const (
	// TimelineBreachDecision records a breach decision (and one that
	// replaces an earlier one).
	TimelineBreachDecision = "breach-decision"
	// TimelineEscalated records that the 72-hour breach deadline passed
	// without a decision; it is written once per deviation.
	TimelineEscalated = "escalated"
)

// BreachDecision is the assessment of a deviation with personal data: was
// Datatilsynet notified, and why (not).
type BreachDecision struct {
	DeviationID string
	Decision    string // BreachNotify or BreachNoNotify
	Rationale   string // required
	Art34       bool   // the data subjects are told (GDPR Art. 34)
	NotifiedAt  time.Time
	Reference   string // Datatilsynet's case number, optional
	DecidedBy   string
	DecidedAt   time.Time
}

// BreachEntry is one line of the breach register: a deviation with personal
// data and its decision, if any.
type BreachEntry struct {
	Deviation   Deviation
	Decision    *BreachDecision // nil while undecided
	EscalatedAt time.Time       // zero unless the deadline passed undecided
}

// Overdue reports whether the entry is past its deadline without a decision.
func (b BreachEntry) Overdue(now time.Time) bool {
	return b.Decision == nil && !b.Deviation.BreachDue.IsZero() && now.After(b.Deviation.BreachDue)
}

// BreachStore keeps the breach assessments.
type BreachStore interface {
	// DecideBreach records the decision on a deviation with personal data,
	// replacing an earlier one; timeline and audit log get both (before and
	// after). ErrNotFound for an unknown deviation; ErrInvalid for one
	// without personal data, an unknown decision, an empty rationale, or
	// "notify" without NotifiedAt.
	DecideBreach(ctx context.Context, d BreachDecision) error
	// GetBreachDecision returns the current decision on a deviation; nil
	// when it has none (or the deviation is unknown).
	GetBreachDecision(ctx context.Context, deviationID string) (*BreachDecision, error)
	// BreachRegister returns every deviation with personal data, oldest T0
	// first, with its decision.
	BreachRegister(ctx context.Context) ([]BreachEntry, error)
	// EscalateBreaches marks, once, every open deviation with personal data
	// past its breach deadline at now and without a decision: a
	// TimelineEscalated entry and an audit entry each, in one transaction.
	// It returns the ids escalated now.
	EscalateBreaches(ctx context.Context, now time.Time) ([]string, error)
}
