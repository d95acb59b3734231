// Package model holds the collector's domain types, the store interfaces every
// driver implements, and the error kinds that the web and ingest layers map to
// HTTP statuses and wire codes. It imports no driver and does no I/O.
package model

import (
	"context"
	"errors"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Error kinds. Drivers wrap them with context; callers test with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrExpired     = errors.New("expired")
	ErrUsedUp      = errors.New("used up")
	ErrRevoked     = errors.New("revoked")
	ErrForbidden   = errors.New("forbidden")
	ErrRateLimited = errors.New("rate limited")
	ErrBusy        = errors.New("busy") // the store cannot take more now; try again shortly
)

// Role is what a user or API token may do.
type Role string

// Roles, as the strategy's organisation (S10.1) names them.
const (
	RoleAdmin     Role = "admin"     // everything, including users and enrollment
	RoleDrift     Role = "drift"     // operations: agents, registers, map
	RoleSikkerhet Role = "sikkerhet" // information security officer
	RoleLeder     Role = "leder"     // line manager
	RoleRevisor   Role = "revisor"   // auditor: read only, evidence export
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleDrift, RoleSikkerhet, RoleLeder, RoleRevisor}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// EnrollToken is an enrollment token as stored: the secret only as a hash.
type EnrollToken struct {
	ID         string
	SecretHash []byte // SHA-256 of the secret (256 random bits; no stretching needed)
	CreatedAt  time.Time
	ExpiresAt  time.Time
	MaxUses    int
	UsesLeft   int
	CreatedBy  string
	RevokedAt  time.Time // zero unless revoked; a revoked token enrolls no one
}

// Revoked reports whether the token was revoked.
func (t EnrollToken) Revoked() bool { return !t.RevokedAt.IsZero() }

// Agent is an enrolled agent.
type Agent struct {
	ID           string
	Fingerprint  string
	Hostname     string // from enrollment, then from hellos
	CertSerial   string // hex serial of the current certificate
	CertNotAfter time.Time
	EnrolledAt   time.Time
	RevokedAt    time.Time // zero unless revoked
	LastSeen     time.Time // zero until the first batch
	Version      string    // agent version from its last hello
	Addr         string    // remote address of the last connection
}

// Revoked reports whether the agent's certificate was revoked.
func (a Agent) Revoked() bool { return !a.RevokedAt.IsZero() }

// HostSummary is one row of the hosts list: an agent and the facts it reported.
type HostSummary struct {
	Agent
	Facts     *wire.Host // nil until the first inventory
	FactsAt   time.Time
	Records   int64  // records stored for this agent
	MaxSeq    uint64 // highest sequence number stored
	MinSeq    uint64 // lowest sequence number stored
	LastError string // reserved for health
}

// IngestBatch is one batch as the ingest layer hands it to the store: stored in
// one transaction, idempotent on (AgentID, Seq).
type IngestBatch struct {
	AgentID    string
	Addr       string
	ReceivedAt time.Time
	Records    []wire.Record
	// Derived from the records by ingest, applied in the same transaction.
	Facts   *wire.Host // latest host facts in the batch, if any
	FactsAt time.Time
	Hello   *wire.Hello // latest hello in the batch, if any
	// Inventories are the batch's decodable inventory records, in seq order.
	// The store applies those it newly stores to the agent's current
	// inventory, in the same transaction; resent ones change nothing.
	Inventories []InventoryRecord
	// Media are the batch's decodable media records, in seq order. The store
	// adds those it newly stores to the media log, unjudged, in the same
	// transaction; resent ones change nothing.
	Media []MediaRecord
	// Flows are the batch's decodable flows records, in seq order. The store
	// adds those it newly stores to the hourly flows, in the same
	// transaction; resent ones change nothing.
	Flows []FlowRecord
	// Neighbours are the batch's decodable neighbours records, in seq order.
	// The store merges those it newly stores into the devices seen, by MAC.
	Neighbours []NeighbourRecord
}

// MediaRecord is one decoded media record of a batch.
type MediaRecord struct {
	Seq   uint64
	At    time.Time // the record's ObservedAt
	Event wire.MediaEvent
}

// InventoryRecord is one decoded inventory record of a batch: a full snapshot
// or a delta (see wire.Inventory).
type InventoryRecord struct {
	Seq uint64
	At  time.Time // the record's ObservedAt
	Inv wire.Inventory
}

// IngestResult says what a committed batch changed.
type IngestResult struct {
	MaxSeq   uint64 // highest seq in the batch, all of which are now stored
	Inserted int    // records new to the store
	// InventoryHash is the hash of the newest inventory snapshot held for the
	// agent after this batch; InventoryFull asks the agent for a full one.
	InventoryHash string
	InventoryFull bool
	// Media is how many media events the batch added to the media log (for
	// waking the rules).
	Media int
	// Flows is how many cross-zone flows the batch added to the hourly
	// flows (for waking the rules).
	Flows int
	// Inventories is how many inventory records new to the store the batch
	// carried (for waking the host and software rules).
	Inventories int
}

// Inventory change operations.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// Sections of inventory history. They follow the wire sections, with the
// hardware split in its parts; ChangeSectionInventory marks the first full
// snapshot an agent sent, which is recorded as one row, not item by item.
const (
	ChangeSectionInventory = "inventory" // key: the snapshot's hash
	ChangeSectionHost      = "host"      // key: a field group: identity, os, cpu, memory, interfaces
	ChangeSectionHardware  = "hardware"  // key: a field group: system, bios
	ChangeSectionDisks     = "disks"     // key: the disk's name
	ChangeSectionUSB       = "usb"       // key: the device's bus path
	ChangeSectionSoftware  = "software"  // key: the package's name
	ChangeSectionServices  = "services"  // key: the service's name
	ChangeSectionUsers     = "users"     // key: the user's name
	ChangeSectionGroups    = "groups"    // key: the group's name
)

// InventoryChange is one row of an agent's inventory history: an item of a
// section added, removed or changed between two snapshots.
type InventoryChange struct {
	AgentID string
	At      time.Time // observed time of the record that brought the change
	Seq     uint64    // seq of that record
	Section string    // ChangeSection…
	Op      string    // ChangeAdded, ChangeRemoved, ChangeChanged
	Key     string    // which item; see the ChangeSection constants
	Before  string    // JSON of the item before; "" when added
	After   string    // JSON of the item after; "" when removed
}

// SoftwareQuery asks which hosts have a piece of software.
type SoftwareQuery struct {
	// Name matches package names, ignoring case: a substring, or a glob
	// where * stands for any run of characters ("openssl*", "*java*").
	Name string
	// Below, when set, keeps only packages whose version is lower, by the
	// package's own version ordering (Debian for dpkg, rpmvercmp for rpm,
	// dotted numbers for Windows).
	Below string
	// Limit is the most hits returned; 0 means no limit.
	Limit int
}

// SoftwareHit is one package on one host.
type SoftwareHit struct {
	AgentID  string
	Hostname string
	Package  wire.Package
}

// APIToken is a bearer token for /api/v1, stored hashed.
type APIToken struct {
	ID        string
	Hash      []byte // SHA-256 of the secret part
	Role      Role
	Name      string
	CreatedAt time.Time
	CreatedBy string
	LastUsed  time.Time
	RevokedAt time.Time // zero unless revoked; a revoked token is refused
}

// Revoked reports whether the token was revoked.
func (t APIToken) Revoked() bool { return !t.RevokedAt.IsZero() }

// User is a person who logs in to the UI.
type User struct {
	Name         string
	PasswordHash string // argon2id, PHC string form
	Role         Role
	CreatedAt    time.Time
	FailedLogins int
	LockedUntil  time.Time
	Lang         string // the UI language the user chose last; "" until they choose
	Disabled     bool   // a disabled user cannot log in
}

// Session is a logged-in browser session; the id is stored only as a hash.
type Session struct {
	IDHash    []byte
	User      string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEvent is one state change: who did what to which subject, and when.
type AuditEvent struct {
	Seq     int64 // assigned by the store
	At      time.Time
	Actor   string // user name, "token:<id>", "agent:<id>" or "system"
	Action  string // dotted verb: enroll.token.create, agent.enroll, user.login …
	Subject string
	Detail  string // JSON or free text: before/after, reasons
}

// TokenStore keeps enrollment tokens.
type TokenStore interface {
	CreateEnrollToken(ctx context.Context, t EnrollToken) error
	// GetEnrollToken returns ErrNotFound for an unknown id.
	GetEnrollToken(ctx context.Context, id string) (EnrollToken, error)
	// UseEnrollToken atomically takes one use: ErrNotFound, ErrRevoked,
	// ErrExpired (at now) or ErrUsedUp when it cannot.
	UseEnrollToken(ctx context.Context, id string, now time.Time) error
	ListEnrollTokens(ctx context.Context) ([]EnrollToken, error)
	// RevokeEnrollToken revokes the token at the given time; a token revoked
	// before keeps its first revocation time. ErrNotFound if unknown.
	RevokeEnrollToken(ctx context.Context, id string, at time.Time) error
}

// AgentStore keeps enrolled agents.
type AgentStore interface {
	// CreateAgent stores a new agent; ErrConflict if the id exists.
	CreateAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	// UpdateAgentCert records a renewed certificate.
	UpdateAgentCert(ctx context.Context, id, serial string, notAfter time.Time) error
	// RevokeAgent marks the agent revoked at the given time; ErrNotFound if unknown.
	RevokeAgent(ctx context.Context, id string, at time.Time) error
	ListAgents(ctx context.Context) ([]Agent, error)
	// AgentsByFingerprint lists agents enrolled with a hardware fingerprint.
	AgentsByFingerprint(ctx context.Context, fp string) ([]Agent, error)
}

// IngestStore commits batches.
type IngestStore interface {
	// Ingest stores the batch in one transaction. Records already stored for the
	// agent are skipped, so resending is harmless.
	Ingest(ctx context.Context, b IngestBatch) (IngestResult, error)
	// Records returns the agent's stored records with seq > after, at most limit.
	Records(ctx context.Context, agentID string, after uint64, limit int) ([]wire.Record, error)
}

// HostStore answers questions about hosts.
type HostStore interface {
	ListHosts(ctx context.Context) ([]HostSummary, error)
	GetHost(ctx context.Context, agentID string) (HostSummary, error)
}

// AuthStore keeps users, sessions and API tokens.
type AuthStore interface {
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, name string) (User, error)
	// UpdateUser stores the user's password hash, role, failed logins,
	// lockout, language and disabled flag; ErrNotFound if unknown.
	UpdateUser(ctx context.Context, u User) error
	CountUsers(ctx context.Context) (int, error)
	// ListUsers lists every user by name.
	ListUsers(ctx context.Context) ([]User, error)

	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, idHash []byte) (Session, error)
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteUserSessions ends every session of user and says how many there
	// were (a disabled user, a changed role, a reset password).
	DeleteUserSessions(ctx context.Context, user string) (int, error)

	CreateAPIToken(ctx context.Context, t APIToken) error
	GetAPIToken(ctx context.Context, id string) (APIToken, error)
	TouchAPIToken(ctx context.Context, id string, at time.Time) error
	// ListAPITokens lists every token, revoked ones included, oldest first.
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	// RevokeAPIToken revokes the token at the given time; a token revoked
	// before keeps its first revocation time. ErrNotFound if unknown.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
}

// AuditStore appends to the audit log and reads it back in order.
type AuditStore interface {
	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error)
}

// PolicyStore keeps the policy pushed to agents.
type PolicyStore interface {
	// CurrentPolicy returns the newest policy, or a default one (version 1) when
	// none was stored.
	CurrentPolicy(ctx context.Context) (wire.Policy, error)
	// SetPolicy stores p as the newest policy; its version must be higher.
	SetPolicy(ctx context.Context, p wire.Policy) error
}

// InventoryStore answers questions about inventories, which Ingest keeps.
type InventoryStore interface {
	// GetInventory returns the agent's current full snapshot and the time it
	// was observed; ErrNotFound when none is held (or the agent is unknown).
	GetInventory(ctx context.Context, agentID string) (wire.Inventory, time.Time, error)
	// InventoryHistory returns the agent's newest inventory changes first, at
	// most limit (which must be positive); ErrNotFound for an unknown agent.
	InventoryHistory(ctx context.Context, agentID string, limit int) ([]InventoryChange, error)
	// SearchSoftware finds packages across hosts, ordered by hostname, agent,
	// name and version; ErrInvalid without a name.
	SearchSoftware(ctx context.Context, q SoftwareQuery) ([]SoftwareHit, error)
	// EachHostSoftware calls fn with every agent's installed packages, one
	// agent at a time (fn must not keep pkgs past its return); it stops at
	// fn's first error and returns it.
	EachHostSoftware(ctx context.Context, fn func(agentID, hostname string, pkgs []wire.Package) error) error
}

// Store is everything a driver provides. Callers take the narrow interface they
// need.
type Store interface {
	TokenStore
	AgentStore
	IngestStore
	HostStore
	InventoryStore
	AuthStore
	AuditStore
	PolicyStore
	MediaStore
	DeviationStore
	FindingStore
	AssetStore
	SoftwareCatalogStore
	TrafficStore
	ConfigMapStore
	OrgStore
	ExceptionStore
	BreachStore
	Close() error
}
