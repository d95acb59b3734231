package model

import (
	"context"
	"time"
)

// TimelineException is the timeline entry of a deviation closed by an
// approved exception.
const TimelineException = "exception"

// MaxExceptionYears is how far ahead an exception may expire: a year from
// when it is granted (now.AddDate(MaxExceptionYears, 0, 0)).
const MaxExceptionYears = 1

// Exception is an approved exception (unntak): this serial, this software,
// this flow — a rule and an exact finding subject that the rules do not
// report until it expires or is revoked.
type Exception struct {
	ID          string // UNNTAK-<year>-<n>
	Rule        string
	Subject     string // a finding's exact subject: "media:0781:5583:4C53…", "software:<agent>:dpkg:bash"
	Reason      string
	ApprovedBy  string
	CreatedAt   time.Time
	Expires     time.Time // required; at most MaxExceptionYears after CreatedAt
	RevokedAt   time.Time // zero unless revoked
	RevokedBy   string
	DeviationID string // the deviation it closed
}

// Active reports whether the exception suppresses its finding at now: not
// revoked and not yet expired.
func (x Exception) Active(now time.Time) bool {
	return x.RevokedAt.IsZero() && now.Before(x.Expires)
}

// ExceptionKey is the (rule, subject) an exception covers.
type ExceptionKey struct{ Rule, Subject string }

// ExceptionStore keeps approved exceptions.
type ExceptionStore interface {
	// GrantException approves an exception for the rule and subject of an
	// open deviation and closes the deviation (status lukket, reason
	// "exception UNNTAK-…: <reason>") in one transaction, with timeline and
	// audit entries. ErrNotFound for an unknown deviation; ErrInvalid for a
	// deviation that is not open, an empty reason, or an expiry that is not
	// after now or more than MaxExceptionYears ahead.
	GrantException(ctx context.Context, deviationID, reason, actor string, expires, now time.Time) (Exception, error)
	// ListExceptions returns every exception, revoked and expired ones too,
	// newest first.
	ListExceptions(ctx context.Context) ([]Exception, error)
	// ActiveExceptions returns the exceptions active at now, in one query.
	ActiveExceptions(ctx context.Context, now time.Time) ([]Exception, error)
	// RevokeException revokes an exception, with an audit entry (before and
	// after). ErrNotFound for an unknown id; ErrInvalid when already revoked.
	RevokeException(ctx context.Context, id, actor string, now time.Time) error
}
