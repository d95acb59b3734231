package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"weak"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// HostIdentities returns every agent with its identity, ordered by agent id:
// agents joined with their facts and the hash of their current inventory,
// then the hardware history of every agent. The serial and asset tag come
// from the hardware part of each inventory snapshot (only that part is
// decoded), and are remembered by snapshot hash, so that only the snapshots
// that changed since the last call are read, in one more query.
func (db *DB) HostIdentities(ctx context.Context) ([]model.HostIdentity, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT a.id, a.hostname, a.revoked_at, a.last_seen, h.facts, coalesce(i.hash, '')
		FROM agents a
		LEFT JOIN hosts h ON h.agent_id = a.id
		LEFT JOIN inventory_current i ON i.agent_id = a.id AND i.snapshot IS NOT NULL
		ORDER BY a.id`)
	if err != nil {
		return nil, fmt.Errorf("host identities: %w", err)
	}
	defer rows.Close()
	var out []model.HostIdentity
	var hashes []string
	for rows.Next() {
		var id model.HostIdentity
		var revoked, lastSeen int64
		var facts sql.NullString
		var hash string
		if err := rows.Scan(&id.AgentID, &id.Hostname, &revoked, &lastSeen, &facts, &hash); err != nil {
			return nil, fmt.Errorf("host identities: %w", err)
		}
		id.Revoked, id.LastSeen = revoked != 0, fromNanos(lastSeen)
		if facts.Valid {
			var h wire.Host
			if err := json.Unmarshal([]byte(facts.String), &h); err != nil {
				return nil, fmt.Errorf("host identities: facts of agent %s: %w", id.AgentID, err)
			}
			if id.Hostname == "" {
				id.Hostname = h.Hostname
			}
			id.MACs, id.Addrs = interfaceIdentity(h.Interfaces)
		}
		out = append(out, id)
		hashes = append(hashes, hash)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("host identities: %w", err)
	}
	rows.Close()

	hw, err := db.hardwareIdentities(ctx, out, hashes)
	if err != nil {
		return nil, err
	}
	history, err := db.serialHistories(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if h, ok := hw[out[i].AgentID]; ok {
			out[i].Serial, out[i].AssetTag = h.serial, h.tag
		}
		out[i].SerialHistory = history[out[i].AgentID]
	}
	return out, nil
}

// hardwareID is the identity an inventory snapshot's hardware gives.
type hardwareID struct {
	hash, serial, tag string
}

// identityCache remembers, per store, each agent's hardware identity with
// the hash of the snapshot it was read from.
type identityCache struct {
	mu      sync.Mutex
	byAgent map[string]hardwareID
}

// identityCaches holds each open store's identityCache; an entry goes when
// its store is collected.
var identityCaches sync.Map // weak.Pointer[DB] -> *identityCache

func (db *DB) identityCache() *identityCache {
	key := weak.Make(db)
	if c, ok := identityCaches.Load(key); ok {
		return c.(*identityCache)
	}
	c, loaded := identityCaches.LoadOrStore(key, &identityCache{byAgent: map[string]hardwareID{}})
	if !loaded {
		runtime.AddCleanup(db, func(k weak.Pointer[DB]) { identityCaches.Delete(k) }, key)
	}
	return c.(*identityCache)
}

// hardwareIdentities returns the hardware identity of every agent of ids
// whose hash (hashes[i]) is not empty, decoding the snapshots the cache does
// not hold at that hash in one query.
func (db *DB) hardwareIdentities(ctx context.Context, ids []model.HostIdentity, hashes []string) (map[string]hardwareID, error) {
	cache := db.identityCache()
	out := make(map[string]hardwareID, len(ids))
	var stale []string
	cache.mu.Lock()
	for i, id := range ids {
		if hashes[i] == "" {
			continue
		}
		if h, ok := cache.byAgent[id.AgentID]; ok && h.hash == hashes[i] {
			out[id.AgentID] = h
		} else {
			stale = append(stale, id.AgentID)
		}
	}
	cache.mu.Unlock()
	if len(stale) == 0 {
		return out, nil
	}

	list, err := json.Marshal(stale)
	if err != nil {
		return nil, fmt.Errorf("host identities: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT agent_id, hash, enc, snapshot FROM inventory_current
		WHERE snapshot IS NOT NULL AND agent_id IN `+db.pick(`(SELECT value FROM json_each(?))`,
		`(SELECT json_array_elements_text(?::json))`), string(list))
	if err != nil {
		return nil, fmt.Errorf("host identities: read inventories: %w", err)
	}
	defer rows.Close()
	var fresh []hardwareID
	var agents []string
	for rows.Next() {
		var agent string
		var h hardwareID
		var enc int64
		var snap []byte
		if err := rows.Scan(&agent, &h.hash, &enc, &snap); err != nil {
			return nil, fmt.Errorf("host identities: read inventories: %w", err)
		}
		// Only the hardware section (key 5 of wire.Inventory) is decoded.
		var inv struct {
			Hardware *wire.Hardware `cbor:"5,keyasint,omitempty"`
		}
		if err := (wire.Record{Kind: wire.KindInventory, Enc: uint8(enc), Body: snap}).DecodeBody(&inv); err != nil {
			// Remembered without a serial, so that it is reported once.
			db.log.Warn("inventory snapshot not readable; identity without serial", "agent", agent, "err", err)
		} else if inv.Hardware != nil {
			h.serial = strings.TrimSpace(inv.Hardware.System.Serial)
			h.tag = strings.TrimSpace(inv.Hardware.System.AssetTag)
		}
		out[agent] = h
		fresh = append(fresh, h)
		agents = append(agents, agent)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("host identities: read inventories: %w", err)
	}
	cache.mu.Lock()
	for i, a := range agents {
		cache.byAgent[a] = fresh[i]
	}
	cache.mu.Unlock()
	return out, nil
}

// serialHistories returns, by agent, the serials the hardware history shows
// an agent had before, newest first, each once and without the current one
// (the after of the newest change).
func (db *DB) serialHistories(ctx context.Context) (map[string][]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT agent_id, before, after FROM inventory_changes
		WHERE section = 'hardware' AND key = 'system' ORDER BY agent_id, seq DESC, id DESC`) // literal: the partial index needs it
	if err != nil {
		return nil, fmt.Errorf("serial history: %w", err)
	}
	defer rows.Close()
	type system struct {
		Serial string `json:"serial"`
	}
	serial := func(s string) string {
		var sys system
		if s == "" || json.Unmarshal([]byte(s), &sys) != nil {
			return ""
		}
		return strings.TrimSpace(sys.Serial)
	}
	out := map[string][]string{}
	current := map[string]string{}
	for rows.Next() {
		var agent, before, after string
		if err := rows.Scan(&agent, &before, &after); err != nil {
			return nil, fmt.Errorf("serial history: %w", err)
		}
		if _, ok := current[agent]; !ok {
			current[agent] = serial(after)
		}
		s := serial(before)
		if s == "" || s == current[agent] || slices.Contains(out[agent], s) {
			continue
		}
		out[agent] = append(out[agent], s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("serial history: %w", err)
	}
	return out, nil
}

// interfaceIdentity returns the MACs and addresses of a host's interfaces,
// each sorted and once, skipping the all-zero MAC of loopback and tunnels.
func interfaceIdentity(ifs []wire.Interface) (macs, addrs []string) {
	for _, it := range ifs {
		if m, ok := model.NormalizeMAC(it.MAC); ok && m != "00:00:00:00:00:00" {
			macs = append(macs, m)
		}
		for _, a := range it.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				a = p.Addr().String()
			}
			if ip, err := netip.ParseAddr(a); err == nil && !ip.IsLoopback() {
				addrs = append(addrs, ip.String())
			}
		}
	}
	slices.Sort(macs)
	slices.Sort(addrs)
	return slices.Compact(macs), slices.Compact(addrs)
}

// SaveMapSnapshot stores a configuration map snapshot and audits it
// (configmap.snapshot) in one transaction.
func (db *DB) SaveMapSnapshot(ctx context.Context, s model.MapSnapshot) (int64, error) {
	if len(s.JSON) == 0 || s.At.IsZero() {
		return 0, fmt.Errorf("save map snapshot: no map or no time: %w", model.ErrInvalid)
	}
	if !json.Valid(s.JSON) {
		return 0, fmt.Errorf("save map snapshot: map is not JSON: %w", model.ErrInvalid)
	}
	counts, err := json.Marshal(nonNilCounts(s.Counts))
	if err != nil {
		return 0, fmt.Errorf("save map snapshot: %w", err)
	}
	var id int64
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO configmap_snapshots (at, taken_by, note, counts, map)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, nanos(s.At), s.TakenBy, s.Note, string(counts), s.JSON).Scan(&id); err != nil {
			return err
		}
		detail, err := json.Marshal(struct {
			ID     int64          `json:"id"`
			Note   string         `json:"note,omitempty"`
			Counts map[string]int `json:"counts"`
		}{id, s.Note, nonNilCounts(s.Counts)})
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditEvent{At: s.At, Actor: s.TakenBy, Action: "configmap.snapshot",
			Subject: fmt.Sprint(id), Detail: string(detail)})
	})
	if err != nil {
		return 0, fmt.Errorf("save map snapshot: %w", err)
	}
	return id, nil
}

func nonNilCounts(c map[string]int) map[string]int {
	if c == nil {
		return map[string]int{}
	}
	return c
}

// ListMapSnapshots returns the newest snapshots first, without their maps.
func (db *DB) ListMapSnapshots(ctx context.Context, limit int) ([]model.MapSnapshot, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list map snapshots: limit %d: %w", limit, model.ErrInvalid)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, at, taken_by, note, counts FROM configmap_snapshots
		ORDER BY at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list map snapshots: %w", err)
	}
	defer rows.Close()
	var out []model.MapSnapshot
	for rows.Next() {
		s, err := scanMapSnapshot(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list map snapshots: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list map snapshots: %w", err)
	}
	return out, nil
}

// GetMapSnapshot returns one snapshot with its map; ErrNotFound if absent.
func (db *DB) GetMapSnapshot(ctx context.Context, id int64) (model.MapSnapshot, error) {
	s, err := scanMapSnapshot(db.r.QueryRowContext(ctx, `SELECT id, at, taken_by, note, counts, map
		FROM configmap_snapshots WHERE id = ?`, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return model.MapSnapshot{}, fmt.Errorf("map snapshot %d: %w", id, model.ErrNotFound)
	}
	if err != nil {
		return model.MapSnapshot{}, fmt.Errorf("get map snapshot %d: %w", id, err)
	}
	return s, nil
}

func scanMapSnapshot(row interface{ Scan(...any) error }, withMap bool) (model.MapSnapshot, error) {
	var s model.MapSnapshot
	var at int64
	var counts string
	dest := []any{&s.ID, &at, &s.TakenBy, &s.Note, &counts}
	if withMap {
		dest = append(dest, &s.JSON)
	}
	if err := row.Scan(dest...); err != nil {
		return model.MapSnapshot{}, err
	}
	s.At = fromNanos(at)
	if err := json.Unmarshal([]byte(counts), &s.Counts); err != nil {
		return model.MapSnapshot{}, fmt.Errorf("counts of snapshot %d: %w", s.ID, err)
	}
	return s, nil
}
