// Package configmap reconciles the asset register with what agents and the
// wire report, producing the configuration map (S1.2, S1.3): every active
// asset is matched, silent, or in conflict, and every agent or device that no
// active asset accounts for is unregistered.
//
// # Matching
//
// A host (an enrolled agent) matches an asset, in this order of preference:
//
//  1. by serial number, compared case-insensitively after trimming space;
//     junk serials that firmware ships by default ("", "0", "None",
//     "Default string", "To be filled by O.E.M.", "System Serial Number",
//     "Not Specified", "123456789" and the like) never match anything;
//  2. else by any MAC address the host reports that the asset lists;
//  3. else by asset tag, when the host reports one that is not junk.
//
// A hostname alone never matches: it is only a hint recorded in Reasons.
//
// # States
//
//   - Matched: an active asset with at least one matching, non-revoked agent
//     seen within Options.SilentAfter.
//   - Silent: an active asset with no matching agent, or whose matching agents
//     are all revoked or silent (Kind "asset").
//   - Unregistered: a non-revoked agent matching no active asset (Kind
//     "agent"; one that matches only a retired asset says so in Reasons; a
//     revoked one is left out), or a device seen on the wire whose MAC belongs
//     neither to an active asset nor to a non-revoked agent (Kind "device"; a
//     retired asset's or a revoked agent's MAC is named in Reasons).
//   - Conflict: two or more non-revoked agents match one asset by serial or
//     MAC (a cloned image), one agent matches two or more assets, or an
//     agent's serial changed under it (Host.SerialHistory). A conflict entry
//     names every side in AgentIDs and Reasons.
//
// Every entry says why it has its state (Entry.Why as codes for pages to
// translate, Entry.Reasons in English).
//
// Reconcile is pure and deterministic: entries are sorted by kind (asset,
// agent, device), then by key (asset tag, agent id, MAC). Diff compares two
// maps by kind and key; Encode and Decode turn a map into a stored snapshot
// and back; Build reads the store and reconciles; Snapshotter takes the daily
// snapshot.
package configmap

import (
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// State is the reconciliation state of one entry in the map.
type State string

// The four states of the configuration map.
const (
	Matched      State = "matched"
	Silent       State = "silent"
	Unregistered State = "unregistered"
	Conflict     State = "conflict"
)

// States lists the states in the order pages show them.
var States = []State{Matched, Silent, Unregistered, Conflict}

// Entry kinds.
const (
	KindAsset  = "asset"
	KindAgent  = "agent"
	KindDevice = "device"
)

// Host is what one enrolled agent says about the machine it runs on.
type Host struct {
	AgentID  string
	Hostname string
	Serial   string
	AssetTag string
	MACs     []string // lower-case aa:bb:cc:dd:ee:ff
	IPs      []string
	LastSeen time.Time
	Revoked  bool
	Zone     string
	// SerialHistory lists the serials the agent reported before its current
	// one, newest first, when known.
	SerialHistory []string
}

// Device is a neighbour seen on the wire by one or more agents.
type Device struct {
	MAC    string
	IPs    []string
	Name   string
	Vendor string
	SeenBy []string // agent ids
	Last   time.Time
}

// Link is an edge between two zones in the observed traffic.
type Link struct {
	From, To string
	Flows    int
	Allowed  bool
}

// Entry is one line of the configuration map: an asset, an agent without an
// asset, or a device without an asset.
type Entry struct {
	State    State
	Kind     string       // KindAsset, KindAgent or KindDevice
	Asset    *model.Asset // the asset, for Kind asset; nil otherwise
	AgentIDs []string     // the agents involved, sorted
	Hostname string
	Serial   string
	Zone     string
	Unit     string
	MACs     []string
	IPs      []string
	LastSeen time.Time // the newest report from an involved agent or the device
	// Why explains the state, reason by reason; Reasons says the same in
	// English, e.g. "agent X: serial S matches asset A" or "agent X has not
	// reported for 26h".
	Why     []Reason
	Reasons []string
}

// Key returns the entry's identity within its kind: the asset tag, the agent
// id or the device MAC.
func (e Entry) Key() string {
	switch {
	case e.Kind == KindAsset && e.Asset != nil:
		return e.Asset.Tag
	case e.Kind == KindAgent && len(e.AgentIDs) > 0:
		return e.AgentIDs[0]
	case len(e.MACs) > 0:
		return e.MACs[0]
	}
	return ""
}

// Map is the configuration map at one moment.
type Map struct {
	At      time.Time
	Entries []Entry
	Counts  map[State]int
	Links   []Link
}

// Options tune Reconcile.
type Options struct {
	// SilentAfter is how long an agent may stay quiet before it counts as
	// silent; DefaultSilentAfter when zero.
	SilentAfter time.Duration
	// Now is the moment of reconciliation; the map's At.
	Now time.Time
}

// DefaultSilentAfter is the silence threshold when Options.SilentAfter is zero.
const DefaultSilentAfter = 3 * time.Hour

// Change operations in a Diff.
const (
	OpAdded   = "added"
	OpRemoved = "removed"
	OpChanged = "changed"
)

// Change is one difference between two maps.
type Change struct {
	Key    string // the entry key (asset tag, agent id, MAC)
	Kind   string // the entry kind
	Op     string // OpAdded, OpRemoved or OpChanged
	Before string // the state or field summary before; "" when added
	After  string // the state or field summary after; "" when removed
}
