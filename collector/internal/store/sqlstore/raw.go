package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// RawInsertRate measures the raw batched-insert rate of the records table, in
// records per second: n small records (about 200-byte bodies) inserted with a
// plain prepared INSERT, one transaction per batch, into the store at path
// (created with the full schema when absent; give it a scratch file, as a
// measuring agent is added), with none of Ingest's bookkeeping. It is the
// yardstick Ingest is compared with in the same run.
func RawInsertRate(path string, n, batch int) (float64, error) {
	if n <= 0 || batch <= 0 {
		return 0, fmt.Errorf("raw insert rate: n %d, batch %d: %w", n, batch, model.ErrInvalid)
	}
	ctx := context.Background()
	db, err := OpenSQLite(ctx, path, nil)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	agentID, err := db.sampleAgent(ctx)
	if err != nil {
		return 0, err
	}
	recs, err := SampleRecords(1, n, time.Unix(1_767_225_600, 0))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := db.rawInsert(ctx, agentID, recs, batch); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// sampleAgent creates an agent with a fresh random id for measurements.
func (db *DB) sampleAgent(ctx context.Context) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	err := db.CreateAgent(ctx, model.Agent{ID: id, Fingerprint: id + id, Hostname: "bench-" + id[:8], EnrolledAt: time.Unix(1_767_225_600, 0)})
	return id, err
}

// rawInsert inserts recs for agentID with a plain prepared INSERT, one
// transaction per batch: the floor under Ingest's cost.
func (db *DB) rawInsert(ctx context.Context, agentID string, recs []wire.Record, batch int) error {
	received := time.Now().UnixNano()
	for len(recs) > 0 {
		k := min(batch, len(recs))
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("raw insert: %w", err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO records (agent_id, seq, kind, observed_at, received_at, enc, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("raw insert: %w", err)
		}
		for _, r := range recs[:k] {
			if _, err := stmt.Exec(agentID, int64(r.Seq), string(r.Kind), r.ObservedAt, received, int64(r.Enc), r.Body); err != nil {
				tx.Rollback()
				return fmt.Errorf("raw insert record %d: %w", r.Seq, err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("raw insert: %w", err)
		}
		recs = recs[k:]
	}
	return nil
}

// SampleRecords returns n health records numbered from seq first, one second
// apart from at, with CBOR bodies of about 200 bytes: the small records that
// make up most of the traffic, for benchmarks.
func SampleRecords(first uint64, n int, at time.Time) ([]wire.Record, error) {
	recs := make([]wire.Record, n)
	for i := range recs {
		h := wire.Health{
			AgentVersion: "1.0.3", RSSBytes: 14<<20 + uint64(i), CPUPercent: 0.12, SpoolRecords: uint64(i % 97),
			SpoolBytes: uint64(i%97) * 180, Uptime: int64(i), PolicyVersion: 3,
			Sensors: []wire.SensorStatus{
				{Name: "inventory", State: "running", Records: uint64(i / 3600)},
				{Name: "media", State: "running", Records: uint64(i / 500)},
				{Name: "traffic", State: "running", Records: uint64(i / 60)},
				{Name: "sockets", State: "running", Records: uint64(i / 60)},
				{Name: "health", State: "running", Records: uint64(i / 60)},
				{Name: "neighbours", State: "unsupported", Error: "no capture permission"},
			},
		}
		r, err := wire.NewRecord(wire.KindHealth, at.Add(time.Duration(i)*time.Second), h)
		if err != nil {
			return nil, err
		}
		r.Seq = first + uint64(i)
		recs[i] = r
	}
	return recs, nil
}
