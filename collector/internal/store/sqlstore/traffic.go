package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

var _ model.TrafficStatsStore = (*DB)(nil)

// maxCount bounds every stored packet and byte count. The upserts add a
// count to a stored one as min(a + b, maxCount) without computing a sum past
// the bound (CASE WHEN a > maxCount - b …), so no sum leaves 64-bit
// integers: PostgreSQL refuses a BIGINT overflow, SQLite turns it into a
// float.
const maxCount = 1 << 62

// maxNeighbourList bounds a neighbour's addresses and agents kept.
const maxNeighbourList = 64

const upsertFlowHour = `INSERT INTO flow_hours (hour, agent_id, src, dst, proto, dport, process, username,
	src_zone, dst_zone, packets, bytes, first, last, verdict, rule, seq)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (hour, agent_id, src, dst, proto, dport, process) DO UPDATE SET
		packets  = CASE WHEN flow_hours.packets > 4611686018427387904 - excluded.packets THEN 4611686018427387904 ELSE flow_hours.packets + excluded.packets END,
		bytes    = CASE WHEN flow_hours.bytes > 4611686018427387904 - excluded.bytes THEN 4611686018427387904 ELSE flow_hours.bytes + excluded.bytes END,
		first    = min(flow_hours.first, excluded.first),
		last     = max(flow_hours.last, excluded.last),
		seq      = max(flow_hours.seq, excluded.seq),
		username = CASE WHEN excluded.username != '' AND excluded.last >= flow_hours.last THEN excluded.username ELSE flow_hours.username END,
		src_zone = CASE WHEN excluded.last >= flow_hours.last THEN excluded.src_zone ELSE flow_hours.src_zone END,
		dst_zone = CASE WHEN excluded.last >= flow_hours.last THEN excluded.dst_zone ELSE flow_hours.dst_zone END,
		verdict  = CASE WHEN excluded.last >= flow_hours.last THEN excluded.verdict ELSE flow_hours.verdict END,
		rule     = CASE WHEN excluded.last >= flow_hours.last THEN excluded.rule ELSE flow_hours.rule END`

const upsertZoneHour = `INSERT INTO zone_hours (hour, agent_id, zone, flows, packets, bytes) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (hour, agent_id, zone) DO UPDATE SET
		flows   = CASE WHEN zone_hours.flows > 4611686018427387904 - excluded.flows THEN 4611686018427387904 ELSE zone_hours.flows + excluded.flows END,
		packets = CASE WHEN zone_hours.packets > 4611686018427387904 - excluded.packets THEN 4611686018427387904 ELSE zone_hours.packets + excluded.packets END,
		bytes   = CASE WHEN zone_hours.bytes > 4611686018427387904 - excluded.bytes THEN 4611686018427387904 ELSE zone_hours.bytes + excluded.bytes END`

const upsertCaptureStatus = `INSERT INTO capture_status (agent_id, source, at, error, stats) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (agent_id, source) DO UPDATE SET at = excluded.at, error = excluded.error, stats = excluded.stats
	WHERE excluded.at >= capture_status.at`

// flowHour is the hour a flows record's counts are kept under: that of its
// interval's start, or of the record's observed time when the interval has
// none.
func flowHour(r model.FlowRecord) time.Time {
	t := r.At
	if r.Flows.Start != 0 {
		t = time.Unix(0, r.Flows.Start)
	}
	return t.UTC().Truncate(time.Hour)
}

// orNanos returns n, or t's nanoseconds when n is 0.
func orNanos(n int64, t time.Time) int64 {
	if n != 0 {
		return n
	}
	return nanos(t)
}

// flowKey is what identifies an hourly flow row of one agent.
type flowKey struct {
	hour            int64
	src, dst, proto string
	dport           uint16
	process         string
}

// flowSum is a batch's flows of one flowKey added up, as the upsert adds
// them to the row: counts summed (bounded), first and last widened, the
// newest sighting's user, zones and verdict.
type flowSum struct {
	user, srcZone, dstZone, verdict, rule string
	packets, bytes                        uint64
	first, last, seq                      int64
}

func (a *flowSum) add(b flowSum) {
	a.packets, a.bytes = min(a.packets+b.packets, maxCount), min(a.bytes+b.bytes, maxCount)
	if b.last >= a.last {
		if b.user != "" {
			a.user = b.user
		}
		a.srcZone, a.dstZone, a.verdict, a.rule = b.srcZone, b.dstZone, b.verdict, b.rule
	}
	a.first, a.last, a.seq = min(a.first, b.first), max(a.last, b.last), max(a.seq, b.seq)
}

// ingestFlows adds the cross-zone flows of the batch's flows records that are
// new to the store (fresh[i] for fs[i]) to their hourly rows, unjudged, adds
// their intra-zone counts to zone_hours and keeps each source's newest
// capture statistics. It returns how many cross-zone flows it added. A flow
// whose ends are in one zone is not a cross-zone flow: only the zone counts
// keep such traffic. The batch's flows are added up by row first, so that a
// row takes one upsert per batch however many records name it.
func ingestFlows(ctx context.Context, tx *sql.Tx, agentID string, fs []model.FlowRecord, fresh []bool) (int, error) {
	if !slices.Contains(fresh, true) {
		return 0, nil
	}
	rowCtx := context.WithoutCancel(ctx) // as in insertRecords
	var keys []flowKey
	sums := map[flowKey]*flowSum{}
	type zoneKey struct {
		hour int64
		zone string
	}
	var zoneKeys []zoneKey
	zones := map[zoneKey]*[3]uint64{}
	n := 0
	for i, r := range fs {
		if !fresh[i] {
			continue
		}
		hour := nanos(flowHour(r))
		start, end := orNanos(r.Flows.Start, r.At), orNanos(r.Flows.End, r.At)
		for _, f := range r.Flows.Flows {
			if f.SrcZone == f.DstZone {
				continue
			}
			k := flowKey{hour: hour, src: f.Src, dst: f.Dst, proto: f.Proto, dport: f.DPort}
			v := flowSum{srcZone: f.SrcZone, dstZone: f.DstZone, verdict: f.Verdict, rule: f.Rule,
				packets: min(f.Packets, maxCount), bytes: min(f.Bytes, maxCount), seq: int64(r.Seq)}
			if p := f.Process; p != nil {
				k.process, v.user = cmp.Or(p.Name, p.Exe), p.User
			}
			v.first = cmp.Or(f.First, start)
			v.last = max(v.first, cmp.Or(f.Last, end))
			if s, ok := sums[k]; ok {
				s.add(v)
			} else {
				keys, sums[k] = append(keys, k), &v
			}
			n++
		}
		for _, z := range r.Flows.Zones {
			k := zoneKey{hour, z.Zone}
			c, ok := zones[k]
			if !ok {
				c = new([3]uint64)
				zoneKeys, zones[k] = append(zoneKeys, k), c
			}
			for j, x := range []uint64{z.Flows, z.Packets, z.Bytes} {
				c[j] = min(c[j]+min(x, maxCount), maxCount)
			}
		}
		stats, err := json.Marshal(r.Flows.Stats)
		if err != nil {
			return 0, fmt.Errorf("encode capture stats of record %d: %w", r.Seq, err)
		}
		if _, err := tx.ExecContext(rowCtx, upsertCaptureStatus, agentID, r.Flows.Source, nanos(r.At), r.Flows.Stats.Error, string(stats)); err != nil {
			return 0, fmt.Errorf("store capture status of record %d: %w", r.Seq, err)
		}
	}

	if len(keys) > 0 {
		stmt, err := tx.PrepareContext(ctx, upsertFlowHour)
		if err != nil {
			return 0, err
		}
		defer stmt.Close()
		for i, k := range keys {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return 0, err
				}
			}
			v := sums[k]
			if _, err := stmt.ExecContext(rowCtx, k.hour, agentID, k.src, k.dst, k.proto, int64(k.dport), k.process, v.user,
				v.srcZone, v.dstZone, int64(v.packets), int64(v.bytes), v.first, v.last, v.verdict, v.rule, v.seq); err != nil {
				return 0, fmt.Errorf("add flow %s %s>%s:%d: %w", k.proto, k.src, k.dst, k.dport, err)
			}
		}
	}
	if len(zoneKeys) > 0 {
		stmt, err := tx.PrepareContext(ctx, upsertZoneHour)
		if err != nil {
			return 0, err
		}
		defer stmt.Close()
		for _, k := range zoneKeys {
			c := zones[k]
			if _, err := stmt.ExecContext(rowCtx, k.hour, agentID, k.zone, int64(c[0]), int64(c[1]), int64(c[2])); err != nil {
				return 0, fmt.Errorf("add zone %s counts: %w", k.zone, err)
			}
		}
	}
	return n, nil
}

// ingestNeighbours merges the devices of the batch's neighbours records that
// are new to the store (fresh[i] for ns[i]) into the devices seen, by MAC.
func ingestNeighbours(ctx context.Context, tx *sql.Tx, agentID string, received int64, ns []model.NeighbourRecord, fresh []bool) error {
	if !slices.Contains(fresh, true) {
		return nil
	}
	for i, r := range ns {
		if !fresh[i] {
			continue
		}
		for _, d := range r.Neighbours.Devices {
			d.MAC = strings.ToLower(strings.TrimSpace(d.MAC))
			if d.MAC == "" {
				continue
			}
			if err := mergeNeighbour(ctx, tx, agentID, received, d); err != nil {
				return fmt.Errorf("merge neighbour %s of record %d: %w", d.MAC, r.Seq, err)
			}
		}
	}
	return nil
}

const neighbourCols = `mac, ips, name, vendor, vendor_class, seen_by, first, last, port, platform, vlan, agents, updated_at`

func scanNeighbour(s interface{ Scan(...any) error }) (model.Neighbour, error) {
	var n model.Neighbour
	var ips, seenBy, agents string
	var first, last, updated, vlan int64
	if err := s.Scan(&n.MAC, &ips, &n.Name, &n.Vendor, &n.VendorClass, &seenBy, &first, &last,
		&n.Port, &n.Platform, &vlan, &agents, &updated); err != nil {
		return model.Neighbour{}, err
	}
	for _, f := range []struct {
		col string
		src string
		dst *[]string
	}{{"ips", ips, &n.IPs}, {"seen_by", seenBy, &n.SeenBy}, {"agents", agents, &n.SeenByAgents}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return model.Neighbour{}, fmt.Errorf("neighbour %s: %s: %w", n.MAC, f.col, err)
		}
		if len(*f.dst) == 0 {
			*f.dst = nil
		}
	}
	n.First, n.Last, n.VLAN, n.UpdatedAt = first, last, uint16(vlan), fromNanos(updated)
	return n, nil
}

// mergeNeighbour merges one device into its row: addresses, protocols and
// agents are added up; the names, vendor, port, platform and VLAN of the
// newer sighting win where it has them; first and last widen.
func mergeNeighbour(ctx context.Context, tx *sql.Tx, agentID string, received int64, d wire.Neighbour) error {
	old, err := scanNeighbour(tx.QueryRowContext(ctx, `SELECT `+neighbourCols+` FROM neighbours WHERE mac = ?`, d.MAC))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		old = model.Neighbour{Neighbour: wire.Neighbour{MAC: d.MAC}}
	case err != nil:
		return err
	}
	n := old
	newer := old.Last == 0 || d.Last >= old.Last
	pick := func(cur, in string) string {
		if in != "" && (newer || cur == "") {
			return in
		}
		return cur
	}
	n.Name, n.Vendor, n.VendorClass = pick(old.Name, d.Name), pick(old.Vendor, d.Vendor), pick(old.VendorClass, d.VendorClass)
	n.Port, n.Platform = pick(old.Port, d.Port), pick(old.Platform, d.Platform)
	if d.VLAN != 0 && (newer || old.VLAN == 0) {
		n.VLAN = d.VLAN
	}
	n.IPs = union(old.IPs, d.IPs)
	n.SeenBy = union(old.SeenBy, d.SeenBy)
	n.SeenByAgents = union(old.SeenByAgents, []string{agentID})
	if d.First != 0 && (old.First == 0 || d.First < old.First) {
		n.First = d.First
	}
	n.Last = max(old.Last, d.Last)

	var cols [3]string
	for i, xs := range [][]string{n.IPs, n.SeenBy, n.SeenByAgents} {
		if cols[i], err = jsonText(xs); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO neighbours (`+neighbourCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mac) DO UPDATE SET ips = excluded.ips, name = excluded.name, vendor = excluded.vendor,
			vendor_class = excluded.vendor_class, seen_by = excluded.seen_by, first = excluded.first, last = excluded.last,
			port = excluded.port, platform = excluded.platform, vlan = excluded.vlan, agents = excluded.agents,
			updated_at = excluded.updated_at`,
		n.MAC, cols[0], n.Name, n.Vendor, n.VendorClass, cols[1], n.First, n.Last, n.Port, n.Platform, int64(n.VLAN), cols[2], received)
	return err
}

// union returns the sorted set of a's and b's non-empty strings, at most
// maxNeighbourList of them (the lowest, so the result is stable).
func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, s := range slices.Concat(a, b) {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxNeighbourList {
		out = out[:maxNeighbourList]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

const flowCols = `f.id, f.hour, f.agent_id, a.hostname, f.seq, f.src, f.dst, f.proto, f.dport, f.src_zone, f.dst_zone,
	f.process, f.username, f.packets, f.bytes, f.first, f.last, f.verdict, f.rule, f.evaluated`

func scanFlowHour(s interface{ Scan(...any) error }) (model.FlowHour, error) {
	var f model.FlowHour
	var hour, seq, dport, packets, bytes, first, last int64
	if err := s.Scan(&f.ID, &hour, &f.AgentID, &f.Hostname, &seq, &f.Src, &f.Dst, &f.Proto, &dport, &f.SrcZone, &f.DstZone,
		&f.Process, &f.User, &packets, &bytes, &first, &last, &f.Verdict, &f.Rule, &f.Evaluated); err != nil {
		return model.FlowHour{}, err
	}
	f.Hour, f.Seq, f.DPort = fromNanos(hour), uint64(seq), uint16(dport)
	f.Packets, f.Bytes, f.First, f.Last = uint64(packets), uint64(bytes), fromNanos(first), fromNanos(last)
	return f, nil
}

func (db *DB) flowHours(ctx context.Context, query string, args ...any) ([]model.FlowHour, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []model.FlowHour
	for rows.Next() {
		f, err := scanFlowHour(rows)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// hourRange adds the conditions of [from, to) on col to where and args; a
// zero time is no bound.
func hourRange(col string, from, to time.Time, where []string, args []any) ([]string, []any) {
	if !from.IsZero() {
		where, args = append(where, col+" >= ?"), append(args, nanos(from))
	}
	if !to.IsZero() {
		where, args = append(where, col+" < ?"), append(args, nanos(to))
	}
	return where, args
}

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(where, " AND ")
}

// Flows returns hourly flows, newest hour first (and within an hour, newest
// row first), filtered by agent, zone (either end), hour range and verdict;
// ErrInvalid without a positive limit.
func (db *DB) Flows(ctx context.Context, q model.FlowQuery) ([]model.FlowHour, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("flows: limit %d: %w", q.Limit, model.ErrInvalid)
	}
	var where []string
	var args []any
	if q.AgentID != "" {
		where, args = append(where, "f.agent_id = ?"), append(args, q.AgentID)
	}
	if q.Zone != "" {
		where, args = append(where, "(f.src_zone = ? OR f.dst_zone = ?)"), append(args, q.Zone, q.Zone)
	}
	if q.SrcZone != "" {
		where, args = append(where, "f.src_zone = ?"), append(args, q.SrcZone)
	}
	if q.DstZone != "" {
		where, args = append(where, "f.dst_zone = ?"), append(args, q.DstZone)
	}
	if q.Verdict != "" {
		where, args = append(where, "f.verdict = ?"), append(args, q.Verdict)
	}
	where, args = hourRange("f.hour", q.From, q.To, where, args)
	fs, err := db.flowHours(ctx, `SELECT `+flowCols+` FROM flow_hours f JOIN agents a ON a.id = f.agent_id`+
		whereClause(where)+` ORDER BY f.hour DESC, f.id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	return fs, nil
}

// PendingFlows returns up to limit hourly flows the rules have not yet
// judged, oldest first; ErrInvalid without a positive limit.
func (db *DB) PendingFlows(ctx context.Context, limit int) ([]model.FlowHour, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending flows: limit %d: %w", limit, model.ErrInvalid)
	}
	fs, err := db.flowHours(ctx, `SELECT `+flowCols+` FROM flow_hours f JOIN agents a ON a.id = f.agent_id
		WHERE f.evaluated = 0 ORDER BY f.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending flows: %w", err)
	}
	return fs, nil
}

// ZoneMatrix adds up the cross-zone flows of hours in [from, to) (a zero time
// is no bound) by zone pair, ordered by from and to zone. A flow is a
// distinct host pair, protocol and port; Denied counts those of them that an
// agent judged denied in any hour.
func (db *DB) ZoneMatrix(ctx context.Context, from, to time.Time) ([]model.ZonePair, error) {
	where, args := hourRange("hour", from, to, nil, nil)
	// total() rather than sum(): a float never overflows; counts are exact
	// up to 2^53.
	rows, err := db.r.QueryContext(ctx, `SELECT src_zone, dst_zone,
		count(DISTINCT src || ' ' || dst || ' ' || proto || ' ' || dport),
		count(DISTINCT agent_id), total(packets), total(bytes),
		count(DISTINCT CASE WHEN verdict = 'denied' THEN src || ' ' || dst || ' ' || proto || ' ' || dport END),
		min(first), max(last)
		FROM flow_hours`+whereClause(where)+` GROUP BY src_zone, dst_zone ORDER BY src_zone, dst_zone`, args...)
	if err != nil {
		return nil, fmt.Errorf("zone matrix: %w", err)
	}
	defer rows.Close()
	var ps []model.ZonePair
	for rows.Next() {
		var p model.ZonePair
		var packets, bytes float64
		var first, last int64
		if err := rows.Scan(&p.From, &p.To, &p.Flows, &p.Hosts, &packets, &bytes, &p.Denied, &first, &last); err != nil {
			return nil, fmt.Errorf("zone matrix: %w", err)
		}
		p.Packets, p.Bytes, p.First, p.Last = uint64(packets), uint64(bytes), fromNanos(first), fromNanos(last)
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("zone matrix: %w", err)
	}
	return ps, nil
}

// Neighbours returns every device seen on the wire, ordered by MAC.
func (db *DB) Neighbours(ctx context.Context) ([]model.Neighbour, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+neighbourCols+` FROM neighbours ORDER BY mac`)
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	defer rows.Close()
	var ns []model.Neighbour
	for rows.Next() {
		n, err := scanNeighbour(rows)
		if err != nil {
			return nil, fmt.Errorf("neighbours: %w", err)
		}
		ns = append(ns, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	return ns, nil
}

// ZoneHours adds up the intra-zone traffic of hours in [from, to) (a zero
// time is no bound) by zone over every agent, ordered by zone.
func (db *DB) ZoneHours(ctx context.Context, from, to time.Time) ([]model.ZoneHour, error) {
	where, args := hourRange("hour", from, to, nil, nil)
	rows, err := db.r.QueryContext(ctx, `SELECT zone, total(flows), total(packets), total(bytes) FROM zone_hours`+
		whereClause(where)+` GROUP BY zone ORDER BY zone`, args...)
	if err != nil {
		return nil, fmt.Errorf("zone hours: %w", err)
	}
	defer rows.Close()
	var zs []model.ZoneHour
	for rows.Next() {
		var z model.ZoneHour
		var flows, packets, bytes float64
		if err := rows.Scan(&z.Zone, &flows, &packets, &bytes); err != nil {
			return nil, fmt.Errorf("zone hours: %w", err)
		}
		z.Flows, z.Packets, z.Bytes = uint64(flows), uint64(packets), uint64(bytes)
		zs = append(zs, z)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("zone hours: %w", err)
	}
	return zs, nil
}

// CaptureStatuses returns each agent's newest capture status per source,
// ordered by agent and source; agentID "" for every agent.
func (db *DB) CaptureStatuses(ctx context.Context, agentID string) ([]model.CaptureStatus, error) {
	query := `SELECT agent_id, source, at, stats FROM capture_status`
	var args []any
	if agentID != "" {
		query, args = query+` WHERE agent_id = ?`, append(args, agentID)
	}
	rows, err := db.r.QueryContext(ctx, query+` ORDER BY agent_id, source`, args...)
	if err != nil {
		return nil, fmt.Errorf("capture statuses: %w", err)
	}
	defer rows.Close()
	var cs []model.CaptureStatus
	for rows.Next() {
		var c model.CaptureStatus
		var at int64
		var stats string
		if err := rows.Scan(&c.AgentID, &c.Source, &at, &stats); err != nil {
			return nil, fmt.Errorf("capture statuses: %w", err)
		}
		if err := json.Unmarshal([]byte(stats), &c.Stats); err != nil {
			return nil, fmt.Errorf("capture status of %s %s: %w", c.AgentID, c.Source, err)
		}
		c.At = fromNanos(at)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("capture statuses: %w", err)
	}
	return cs, nil
}
