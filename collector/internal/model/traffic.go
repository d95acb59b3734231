package model

import (
	"context"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// FlowRecord is one decoded flows record of a batch.
type FlowRecord struct {
	Seq   uint64
	At    time.Time // the record's ObservedAt
	Flows wire.Flows
}

// NeighbourRecord is one decoded neighbours record of a batch.
type NeighbourRecord struct {
	Seq        uint64
	At         time.Time
	Neighbours wire.Neighbours
}

// FlowHour is the collector's aggregate of one flow over one hour: every
// flows record's counts for the same hour, agent, host pair, protocol,
// service port and process, added up. A record's counts belong to the hour
// its interval starts in (its observed time when it has no interval). Only
// cross-zone flows (SrcZone != DstZone as the agent classified them) get
// rows. Ingest writes it in the batch's transaction; a resent record changes
// nothing.
type FlowHour struct {
	ID       int64     // assigned by the store
	Hour     time.Time // UTC, truncated to the hour
	AgentID  string
	Hostname string // the agent's hostname when the row was read back
	// Seq is the newest flows record that added to the row, for evidence.
	Seq     uint64
	Src     string
	Dst     string
	Proto   string
	DPort   uint16
	SrcZone string
	DstZone string
	Process string // executable name, "" when unknown
	User    string
	Packets uint64
	Bytes   uint64
	First   time.Time
	Last    time.Time
	// Verdict and Rule are the agent's judgement by the policy it held;
	// the collector's rules judge again by the current firewall map.
	Verdict string
	Rule    string
	// Evaluated is set once the rules have judged the row (in the same
	// transaction as the deviations they opened).
	Evaluated bool
}

// FlowQuery selects hourly flows, newest hour first.
type FlowQuery struct {
	AgentID string    // "" for every agent
	Zone    string    // either end in this zone; "" for every zone
	SrcZone string    // the opening end in this zone; "" for every zone
	DstZone string    // the other end in this zone; "" for every zone
	From    time.Time // hours at or after; zero for no bound
	To      time.Time // hours before; zero for no bound
	Verdict string    // "" for every verdict
	Limit   int       // must be positive
}

// ZonePair is one cell of the zone flow matrix: what went from one zone to
// another during a period.
type ZonePair struct {
	From, To string
	Flows    int // distinct host pair, protocol and port combinations
	Hosts    int // distinct agents that saw them
	Packets  uint64
	Bytes    uint64
	Denied   int // flows the agents judged denied
	First    time.Time
	Last     time.Time
}

// Neighbour is one device seen on the wire, as the collector keeps it: the
// newest facts by MAC, and which agents saw it.
type Neighbour struct {
	wire.Neighbour
	SeenByAgents []string // agent ids, sorted
	UpdatedAt    time.Time
}

// TrafficStore keeps hourly flows and discovered neighbours; Ingest writes
// both.
type TrafficStore interface {
	// Flows returns hourly flows, newest first; ErrInvalid without a
	// positive limit.
	Flows(ctx context.Context, q FlowQuery) ([]FlowHour, error)
	// ZoneMatrix adds up the cross-zone flows of hours in [from, to) (a zero
	// time is no bound) by zone pair, ordered by from and to zone.
	ZoneMatrix(ctx context.Context, from, to time.Time) ([]ZonePair, error)
	// PendingFlows returns up to limit hourly flows the rules have not yet
	// judged, oldest first. A row whose counts grow after it was judged is
	// not judged again.
	PendingFlows(ctx context.Context, limit int) ([]FlowHour, error)
	// Neighbours returns every device seen, ordered by MAC.
	Neighbours(ctx context.Context) ([]Neighbour, error)
}

// ZoneHour is the traffic that stayed inside one zone during one hour, as one
// agent counted it (wire.ZoneCount added up by hour).
type ZoneHour struct {
	Hour    time.Time // UTC, truncated to the hour
	AgentID string
	Zone    string
	Flows   uint64
	Packets uint64
	Bytes   uint64
}

// CaptureStatus is the newest capture statistics one agent reported for one
// traffic source ("capture:eth0", "sockets"): Error says why the capture is
// not running, when it is not.
type CaptureStatus struct {
	AgentID string
	Source  string
	At      time.Time // the flows record's observed time
	Stats   wire.CaptureStats
}

// TrafficStatsStore answers what ingest keeps beside the hourly flows: the
// intra-zone counts and each capture's newest status. It is apart from
// TrafficStore so that its readers can take it alone.
type TrafficStatsStore interface {
	// ZoneHours adds up the intra-zone traffic of hours in [from, to) (a
	// zero time is no bound) by zone, over every agent (AgentID ""), ordered
	// by zone; Hour is the zero time.
	ZoneHours(ctx context.Context, from, to time.Time) ([]ZoneHour, error)
	// CaptureStatuses returns each agent's newest capture status per
	// source, ordered by agent and source; agentID "" for every agent.
	CaptureStatuses(ctx context.Context, agentID string) ([]CaptureStatus, error)
}
