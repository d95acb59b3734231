package model

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// AuditEntry is one audit-log entry as the hash chain holds it: the event
// and its hash, SHA-256 over the previous entry's hash and the event's
// fields (see evidence.EntryHash for the exact encoding).
type AuditEntry struct {
	AuditEvent
	AtNanos int64  // At exactly as stored (Unix nanoseconds, 0 for the zero time); the hash covers this
	Hash    []byte // 32 bytes
}

// AuditCheckpoint is a signed statement that the audit chain's entry Seq
// had hash Head at At: the collector's Ed25519 key (Fingerprint: SHA-256 of
// the raw public key, hex) signed evidence.CheckpointMessage of it.
type AuditCheckpoint struct {
	ID          int64 // assigned by the store
	Seq         int64
	Head        []byte
	At          time.Time
	Fingerprint string
	Signature   []byte
}

// AuditChainStore reads the hash-chained audit log and keeps its signed
// checkpoints. Every append (AuditStore.AppendAudit and the drivers' own
// audited changes) links the new entry to the previous one in the same
// transaction.
type AuditChainStore interface {
	// EachAuditEntry calls fn with the entries fromSeq <= seq <= toSeq (toSeq
	// 0: no upper bound) in seq order, streaming; it stops at fn's first
	// error and returns it.
	EachAuditEntry(ctx context.Context, fromSeq, toSeq int64, fn func(AuditEntry) error) error
	// AuditHead returns the newest entry; ErrNotFound when the log is empty.
	AuditHead(ctx context.Context) (AuditEntry, error)
	// FirstAuditSeqSince returns the lowest seq of an entry at or after t;
	// 0 when there is none.
	FirstAuditSeqSince(ctx context.Context, t time.Time) (int64, error)
	// SaveAuditCheckpoint stores c (append-only) and returns its id.
	SaveAuditCheckpoint(ctx context.Context, c AuditCheckpoint) (int64, error)
	// AuditCheckpoints returns the checkpoints with fromSeq <= Seq <= toSeq
	// (toSeq 0: no upper bound), ordered by seq and id.
	AuditCheckpoints(ctx context.Context, fromSeq, toSeq int64) ([]AuditCheckpoint, error)
	// LastAuditCheckpoint returns the newest checkpoint; ErrNotFound when
	// none was taken.
	LastAuditCheckpoint(ctx context.Context) (AuditCheckpoint, error)
}

// EvidenceStore streams what an evidence bundle holds for a period, so that
// a bundle never holds the period in memory. Periods are [from, to).
type EvidenceStore interface {
	// EachDeviationIn calls fn with every deviation created before to that
	// was open at from or changed at or after from, ordered by creation.
	EachDeviationIn(ctx context.Context, from, to time.Time, fn func(Deviation) error) error
	// EachTimelineIn calls fn with every timeline entry at or after from and
	// before to, ordered by deviation and seq.
	EachTimelineIn(ctx context.Context, from, to time.Time, fn func(deviationID string, e TimelineEvent) error) error
	// EachMediaEventIn calls fn with every media event observed in the
	// period, ordered by time and id.
	EachMediaEventIn(ctx context.Context, from, to time.Time, fn func(MediaEvent) error) error
	// EvidenceZoneMatrix returns what TrafficStore.ZoneMatrix returns for
	// the period, computed to stay within the bundle's time budget over a
	// year of hourly flows.
	EvidenceZoneMatrix(ctx context.Context, from, to time.Time) ([]ZonePair, error)
}

// ChainDomain starts every audit entry's hashed encoding, so that a hash of
// the chain is never a hash of anything else.
const ChainDomain = "sonevakt-audit-chain-v1"

// GenesisHash is the "previous hash" of the log's first entry: 32 zero bytes.
var GenesisHash = make([]byte, 32)

// ChainHash returns an audit entry's hash: SHA-256 over ChainDomain, then
// prev, seq, atNanos, actor, action, subject and detail, each
// length-prefixed (a field's length as 8 bytes big-endian, then its bytes;
// integers as their 8 bytes big-endian, two's complement).
func ChainHash(prev []byte, seq, atNanos int64, actor, action, subject, detail string) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	num := func(v int64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(v))
		field(b[:])
	}
	field([]byte(ChainDomain))
	field(prev)
	num(seq)
	num(atNanos)
	for _, s := range []string{actor, action, subject, detail} {
		field([]byte(s))
	}
	return h.Sum(nil)
}

// Rehash recomputes the entry's hash from prev and its fields.
func (e AuditEntry) Rehash(prev []byte) []byte {
	return ChainHash(prev, e.Seq, e.AtNanos, e.Actor, e.Action, e.Subject, e.Detail)
}
