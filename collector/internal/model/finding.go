package model

import (
	"context"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TimelineCleared is the timeline entry an open deviation gets when the
// standing condition behind it no longer holds (the host was registered, the
// agent reported again, the declaration was signed). The deviation stays open:
// a person closes it.
const TimelineCleared = "cleared"

// Standing is the state of one standing condition: a finding about a rule and
// subject that is restated at every evaluation (an unregistered host stays
// unregistered) rather than observed once as an event.
type Standing struct {
	Rule      string
	Subject   string
	Active    bool      // the condition held at the last evaluation of its subject
	Since     time.Time // when it last became active
	LastSeen  time.Time // the last evaluation that found it
	ClearedAt time.Time // when it last stopped holding; zero while active, or never cleared
}

// HostAccounts are the local users and the sessions of one agent's current
// inventory snapshot: what supplier-access judges.
type HostAccounts struct {
	AgentID  string
	Users    []wire.User
	Sessions []wire.Session
}

// FindingStore keeps the state of standing conditions, so that restating
// one does not add an occurrence at every evaluation.
type FindingStore interface {
	// RecordStanding stores one evaluation of a rule's standing conditions
	// in one transaction. scope names the subjects evaluated; nil means every
	// subject of the rule (a whole-map evaluation), and the subjects of fs
	// are always in scope. For each finding of fs: when its (rule, subject)
	// is not active, it becomes active and goes through RecordFindings'
	// dedupe (a new deviation, or an occurrence of an open one); when active,
	// only its last seen time moves. An active condition in scope that fs no
	// longer names is cleared, and an open deviation of its rule and subject
	// gets a TimelineCleared entry. So a deviation a person closed reopens
	// only after its condition cleared and came back.
	//
	// The results name the deviations that changed: one per finding that
	// became active (in the order of fs; Created for a new deviation), then
	// one per open deviation that got a TimelineCleared entry. ErrInvalid,
	// storing nothing, for an empty rule, a finding of another rule, without
	// a subject or with an unknown severity.
	RecordStanding(ctx context.Context, rule string, scope []string, fs []NewDeviation, now time.Time) ([]RecordResult, error)
	// StandingConditions returns the rule's conditions (active or cleared),
	// ordered by subject; every rule's when rule is "".
	StandingConditions(ctx context.Context, rule string) ([]Standing, error)
	// HostAccounts returns the users and sessions of every agent that holds
	// a current inventory snapshot, revoked ones included, ordered by agent
	// id.
	HostAccounts(ctx context.Context) ([]HostAccounts, error)
}
