package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const insertRecord = `INSERT INTO records (agent_id, seq, kind, observed_at, received_at, enc, body)
	VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, seq) DO NOTHING`

// Ingest stores the batch in one transaction: the records new to the store,
// the agent's record stats, its last contact (and hostname and version from a
// hello), its host facts when they are newer than those stored, its
// inventory as the batch's new inventory records change it (inventory.go),
// the media log's rows for its new media records (media.go), and the hourly
// flows and devices seen of its new flows and neighbours records
// (traffic.go). Records
// already stored are skipped, so a resent or overlapping batch is harmless.
// An unknown agent is ErrNotFound and stores nothing. Revoked agents are
// refused at the handshake, not here: a batch already in flight is kept.
func (db *DB) Ingest(ctx context.Context, b model.IngestBatch) (model.IngestResult, error) {
	var res model.IngestResult
	for _, r := range b.Records {
		if r.Seq == 0 || r.Seq > math.MaxInt64 {
			return model.IngestResult{}, fmt.Errorf("ingest for agent %s: record seq %d out of range: %w", b.AgentID, r.Seq, model.ErrInvalid)
		}
		res.MaxSeq = max(res.MaxSeq, r.Seq)
	}
	var facts []byte
	if b.Facts != nil {
		var err error
		if facts, err = json.Marshal(b.Facts); err != nil {
			return model.IngestResult{}, fmt.Errorf("ingest for agent %s: encode facts: %w", b.AgentID, err)
		}
	}
	var hostname, version string
	if b.Hello != nil {
		hostname, version = b.Hello.Hostname, b.Hello.AgentVersion
	}
	received := nanos(b.ReceivedAt)

	req := &ingestReq{ctx: ctx, b: b, facts: facts, hostname: hostname, version: version, received: received, res: res,
		done: make(chan struct{})}
	if err := db.ingester.submit(ctx, req); err != nil {
		return model.IngestResult{}, fmt.Errorf("ingest %d records for agent %s: %w", len(b.Records), b.AgentID, err)
	}
	if req.err != nil {
		return model.IngestResult{}, fmt.Errorf("ingest %d records for agent %s: %w", len(b.Records), b.AgentID, req.err)
	}
	return req.res, nil
}

// ingestTx applies one batch in tx (see Ingest).
func (db *DB) ingestTx(ctx context.Context, tx *sql.Tx, req *ingestReq) (model.IngestResult, error) {
	b, res, received, facts, hostname, version := req.b, req.res, req.received, req.facts, req.hostname, req.version
	// The agent's row first: it proves the agent exists and takes its
	// row's place in the transaction.
	r, err := tx.ExecContext(ctx, `UPDATE agents SET
		last_seen = max(last_seen, ?),
		addr      = CASE WHEN ? = '' THEN addr ELSE ? END,
		hostname  = CASE WHEN ? = '' THEN hostname ELSE ? END,
		version   = CASE WHEN ? = '' THEN version ELSE ? END
		WHERE id = ?`,
		received, b.Addr, b.Addr, hostname, hostname, version, version, b.AgentID)
	if err := exactlyOne(r, err, "agent "+b.AgentID); err != nil {
		return res, err
	}

	// fresh and freshMedia mark the inventory and media records new to
	// the store: only those change the agent's inventory or reach the
	// media log.
	var fresh, freshMedia, freshFlows, freshNeighbours []bool
	var inserted func(seq uint64)
	if len(b.Inventories) > 0 || len(b.Media) > 0 || len(b.Flows) > 0 || len(b.Neighbours) > 0 {
		fresh, freshMedia = make([]bool, len(b.Inventories)), make([]bool, len(b.Media))
		freshFlows, freshNeighbours = make([]bool, len(b.Flows)), make([]bool, len(b.Neighbours))
		invBySeq := make(map[uint64]int, len(b.Inventories))
		for i, inv := range b.Inventories {
			invBySeq[inv.Seq] = i
		}
		mediaBySeq := make(map[uint64]int, len(b.Media))
		for i, m := range b.Media {
			mediaBySeq[m.Seq] = i
		}
		flowsBySeq := make(map[uint64]int, len(b.Flows))
		for i, f := range b.Flows {
			flowsBySeq[f.Seq] = i
		}
		neighboursBySeq := make(map[uint64]int, len(b.Neighbours))
		for i, n := range b.Neighbours {
			neighboursBySeq[n.Seq] = i
		}
		inserted = func(seq uint64) {
			if i, ok := invBySeq[seq]; ok {
				fresh[i] = true
			}
			if i, ok := mediaBySeq[seq]; ok {
				freshMedia[i] = true
			}
			if i, ok := flowsBySeq[seq]; ok {
				freshFlows[i] = true
			}
			if i, ok := neighboursBySeq[seq]; ok {
				freshNeighbours[i] = true
			}
		}
	}

	if len(b.Records) > 0 {
		insert := insertRecords
		if db.dialect == Postgres {
			insert = insertRecordsPG
		}
		n, minSeq, maxSeq, err := insert(ctx, tx, b.AgentID, received, b.Records, inserted)
		if err != nil {
			return res, err
		}
		res.Inserted = n
		if n > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_stats (agent_id, records, min_seq, max_seq)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (agent_id) DO UPDATE SET
					records = agent_stats.records + excluded.records,
					min_seq = min(agent_stats.min_seq, excluded.min_seq),
					max_seq = max(agent_stats.max_seq, excluded.max_seq)`,
				b.AgentID, n, int64(minSeq), int64(maxSeq)); err != nil {
				return res, fmt.Errorf("update stats: %w", err)
			}
		}
	}

	if facts != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hosts (agent_id, facts, facts_at) VALUES (?, ?, ?)
			ON CONFLICT (agent_id) DO UPDATE SET facts = excluded.facts, facts_at = excluded.facts_at
			WHERE excluded.facts_at > hosts.facts_at`,
			b.AgentID, string(facts), nanos(b.FactsAt)); err != nil {
			return res, fmt.Errorf("store facts: %w", err)
		}
	}

	inv, err := db.ingestInventory(ctx, tx, b.AgentID, b.Inventories, fresh)
	if err != nil {
		return res, fmt.Errorf("store inventory: %w", err)
	}
	res.InventoryHash, res.InventoryFull = inv.hash, inv.wantFull
	for _, f := range fresh {
		if f {
			res.Inventories++
		}
	}

	if res.Media, err = ingestMedia(ctx, tx, b.AgentID, received, b.Media, freshMedia); err != nil {
		return res, fmt.Errorf("store media log: %w", err)
	}
	if res.Flows, err = ingestFlows(ctx, tx, b.AgentID, b.Flows, freshFlows); err != nil {
		return res, fmt.Errorf("store flows: %w", err)
	}
	if err := ingestNeighbours(ctx, tx, b.AgentID, received, b.Neighbours, freshNeighbours); err != nil {
		return res, fmt.Errorf("store neighbours: %w", err)
	}
	return res, nil
}

// insertRecordsPG is insertRecords for PostgreSQL, in one statement: the
// batch goes as arrays (unnest), and RETURNING names the seqs that were new.
// Row by row, each record would cost a round trip to the server.
func insertRecordsPG(ctx context.Context, tx *sql.Tx, agentID string, received int64, recs []wire.Record, inserted func(seq uint64)) (n int, minSeq, maxSeq uint64, err error) {
	seqs := make([]int64, len(recs))
	kinds := make([]string, len(recs))
	observed := make([]int64, len(recs))
	encs := make([]int64, len(recs))
	bodies := make([][]byte, len(recs))
	for i, r := range recs {
		seqs[i], kinds[i], observed[i], encs[i], bodies[i] = int64(r.Seq), string(r.Kind), r.ObservedAt, int64(r.Enc), blob(r.Body)
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO records (agent_id, seq, kind, observed_at, received_at, enc, body)
		SELECT ?, r.seq, r.kind, r.observed_at, ?, r.enc, r.body
		FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::bigint[], ?::bytea[]) AS r (seq, kind, observed_at, enc, body)
		ON CONFLICT (agent_id, seq) DO NOTHING RETURNING seq`,
		agentID, received, seqs, kinds, observed, encs, bodies)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("insert records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return 0, 0, 0, err
		}
		seq := uint64(v)
		if inserted != nil {
			inserted(seq)
		}
		if n == 0 || seq < minSeq {
			minSeq = seq
		}
		maxSeq = max(maxSeq, seq)
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("insert records: %w", err)
	}
	return n, minSeq, maxSeq, nil
}

// insertRecords inserts recs with one prepared statement, skipping those
// already stored, and reports how many were new and their lowest and highest
// seq. inserted, if not nil, is called with the seq of every new record.
func insertRecords(ctx context.Context, tx *sql.Tx, agentID string, received int64, recs []wire.Record, inserted func(seq uint64)) (n int, minSeq, maxSeq uint64, err error) {
	stmt, err := tx.PrepareContext(ctx, insertRecord)
	if err != nil {
		return 0, 0, 0, err
	}
	defer stmt.Close()
	// The per-row calls run without ctx's cancellation: with it, the driver
	// starts a watcher goroutine for each row. ctx is checked between rows
	// instead, and the transaction is rolled back when it ends.
	rowCtx := context.WithoutCancel(ctx)
	for i, r := range recs {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, 0, 0, err
			}
		}
		res, err := stmt.ExecContext(rowCtx, agentID, int64(r.Seq), string(r.Kind), r.ObservedAt, received, int64(r.Enc), blob(r.Body))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("insert record %d: %w", r.Seq, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, 0, 0, err
		}
		if k == 0 {
			continue
		}
		if inserted != nil {
			inserted(r.Seq)
		}
		if n == 0 || r.Seq < minSeq {
			minSeq = r.Seq
		}
		maxSeq = max(maxSeq, r.Seq)
		n++
	}
	return n, minSeq, maxSeq, nil
}

// Records returns the agent's stored records with seq > after, in seq order,
// at most limit (which must be positive). An unknown agent has none.
func (db *DB) Records(ctx context.Context, agentID string, after uint64, limit int) ([]wire.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("records of agent %s: limit %d: %w", agentID, limit, model.ErrInvalid)
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, kind, observed_at, enc, body FROM records
		WHERE agent_id = ? AND seq > ? ORDER BY seq LIMIT ?`, agentID, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("records of agent %s: %w", agentID, err)
	}
	defer rows.Close()
	var recs []wire.Record
	for rows.Next() {
		var r wire.Record
		var seq, enc int64
		var kind string
		if err := rows.Scan(&seq, &kind, &r.ObservedAt, &enc, &r.Body); err != nil {
			return nil, fmt.Errorf("records of agent %s: %w", agentID, err)
		}
		r.Seq, r.Kind, r.Enc = uint64(seq), wire.Kind(kind), uint8(enc)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records of agent %s: %w", agentID, err)
	}
	return recs, nil
}

const hostQuery = `SELECT ` + agentCols + `, h.facts, coalesce(h.facts_at, 0),
	coalesce(s.records, 0), coalesce(s.min_seq, 0), coalesce(s.max_seq, 0)
	FROM agents a
	LEFT JOIN hosts h ON h.agent_id = a.id
	LEFT JOIN agent_stats s ON s.agent_id = a.id`

// ListHosts lists every agent, revoked ones included, with its newest facts
// and record stats, ordered by hostname.
func (db *DB) ListHosts(ctx context.Context) ([]model.HostSummary, error) {
	rows, err := db.r.QueryContext(ctx, hostQuery+` ORDER BY a.hostname, a.id`)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	defer rows.Close()
	var hs []model.HostSummary
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("list hosts: %w", err)
		}
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return hs, nil
}

// GetHost returns one agent's host summary; ErrNotFound if unknown.
func (db *DB) GetHost(ctx context.Context, agentID string) (model.HostSummary, error) {
	h, err := scanHost(db.r.QueryRowContext(ctx, hostQuery+` WHERE a.id = ?`, agentID))
	if errors.Is(err, sql.ErrNoRows) {
		return model.HostSummary{}, fmt.Errorf("host %s: %w", agentID, model.ErrNotFound)
	}
	if err != nil {
		return model.HostSummary{}, fmt.Errorf("get host %s: %w", agentID, err)
	}
	return h, nil
}

func scanHost(s interface{ Scan(...any) error }) (model.HostSummary, error) {
	var h model.HostSummary
	var facts sql.NullString
	var factsAt, minSeq, maxSeq int64
	dest, done := agentDest(&h.Agent)
	if err := s.Scan(append(dest, &facts, &factsAt, &h.Records, &minSeq, &maxSeq)...); err != nil {
		return model.HostSummary{}, err
	}
	done()
	if facts.Valid {
		h.Facts = new(wire.Host)
		if err := json.Unmarshal([]byte(facts.String), h.Facts); err != nil {
			return model.HostSummary{}, fmt.Errorf("facts of agent %s: %w", h.ID, err)
		}
	}
	h.FactsAt, h.MinSeq, h.MaxSeq = fromNanos(factsAt), uint64(minSeq), uint64(maxSeq)
	return h, nil
}
