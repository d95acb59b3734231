package model

import (
	"context"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// MediaEvent is one media record as the collector keeps it in the media log:
// a projection of the stored record, written by Ingest in the batch's
// transaction.
type MediaEvent struct {
	ID         int64 // assigned by the store, increasing
	AgentID    string
	Hostname   string // the agent's hostname when the event was read back
	Seq        uint64 // the record's seq
	At         time.Time
	ReceivedAt time.Time
	Event      wire.MediaEvent
	// Evaluated is set once the rules have judged the event (in the same
	// transaction as the deviations they opened).
	Evaluated bool
}

// MediaLogQuery selects media events, newest first.
type MediaLogQuery struct {
	AgentID  string // "" for every agent
	Key      string // a medium's register key (vid:pid:serial); "" for every medium
	BeforeID int64  // for paging: only events with a smaller id; 0 for the newest
	Limit    int    // must be positive
}

// MediaEntry is one medium in the media register (S6.1): the municipality's
// own media, who owns them and how they must be handled.
type MediaEntry struct {
	VID                string // 4 lower-case hex digits; "" for media without USB identity
	PID                string
	Serial             string // "" registers every serial of the model VID:PID
	MarkingID          string // the id the medium's marking carries
	OwnerUnit          string // organisational unit that owns the medium
	Classification     string // e.g. "intern", "fortrolig", "strengt fortrolig"
	EncryptionRequired bool   // the medium must hold only encrypted volumes
	Note               string
	UpdatedAt          time.Time
	UpdatedBy          string
}

// Key is the entry's identity: wire.MediaKey(VID, PID, Serial).
func (e MediaEntry) Key() string { return wire.MediaKey(e.VID, e.PID, e.Serial) }

// RegisterChange is what a register import or edit changed, entry by entry.
type RegisterChange struct {
	Added, Updated, Removed, Unchanged int
}

// MediaStore keeps the media log and the media register.
type MediaStore interface {
	// MediaLog returns media events, newest first; ErrInvalid without a
	// positive limit.
	MediaLog(ctx context.Context, q MediaLogQuery) ([]MediaEvent, error)
	// PendingMedia returns up to limit events the rules have not yet judged,
	// oldest first.
	PendingMedia(ctx context.Context, limit int) ([]MediaEvent, error)

	// MediaRegister returns the register sorted by key (byte order).
	MediaRegister(ctx context.Context) ([]MediaEntry, error)
	// ImportMediaRegister writes entries in one transaction: with replace,
	// the register becomes exactly entries; without, entries are added or
	// updated by key and the rest stay. Every entry added, updated or removed
	// lands in the audit log with actor, before and after. ErrConflict when
	// entries repeat a key.
	ImportMediaRegister(ctx context.Context, entries []MediaEntry, replace bool, actor string, at time.Time) (RegisterChange, error)
	// DeleteMediaEntry removes one entry (audited); ErrNotFound if absent.
	DeleteMediaEntry(ctx context.Context, key, actor string, at time.Time) error
}
