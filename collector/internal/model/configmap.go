package model

import (
	"context"
	"time"
)

// HostIdentity is what the collector knows about one agent's identity: what
// the configuration map matches against the asset register.
type HostIdentity struct {
	AgentID  string
	Hostname string
	Revoked  bool
	LastSeen time.Time
	MACs     []string // from the host facts' interfaces, lower-case, sorted
	Addrs    []string // the interfaces' addresses, without prefix length, sorted
	Serial   string   // the current inventory's hardware serial; "" when none
	AssetTag string   // the current inventory's asset tag; "" when none
	// SerialHistory lists the serials the inventory history shows the agent
	// had before its current one, newest first.
	SerialHistory []string
}

// MapSnapshot is a stored configuration map: the map as JSON, and the counts
// by state for lists that do not open it.
type MapSnapshot struct {
	ID      int64 // assigned by the store
	At      time.Time
	TakenBy string // the user, or "system" for the daily snapshot
	Note    string
	JSON    []byte         // the map; empty in ListMapSnapshots
	Counts  map[string]int // entries by state
}

// ConfigMapStore keeps what the configuration map reads beyond the asset
// register and the traffic store: the agents' identities and the map's
// snapshots.
type ConfigMapStore interface {
	// HostIdentities returns every agent, revoked ones included, ordered by
	// agent id.
	HostIdentities(ctx context.Context) ([]HostIdentity, error)
	// SaveMapSnapshot stores s and returns its id; the audit log gets an
	// entry (action configmap.snapshot) in the same transaction. ErrInvalid
	// without JSON or a time.
	SaveMapSnapshot(ctx context.Context, s MapSnapshot) (int64, error)
	// ListMapSnapshots returns the newest snapshots first, at most limit
	// (which must be positive), without their JSON.
	ListMapSnapshots(ctx context.Context, limit int) ([]MapSnapshot, error)
	// GetMapSnapshot returns one snapshot with its JSON; ErrNotFound if
	// absent.
	GetMapSnapshot(ctx context.Context, id int64) (MapSnapshot, error)
}
