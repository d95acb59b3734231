package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

var _ model.EvidenceStore = (*DB)(nil)

// periodBounds turns [from, to) into stored nanoseconds; a zero to is no
// upper bound.
func periodBounds(from, to time.Time) (int64, int64) {
	hi := int64(math.MaxInt64)
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	return nanos(from), hi
}

// eachRow runs query on a reader and calls fn with every row scanned by
// scan, streaming; it stops at the first error.
func eachRow[T any](ctx context.Context, db *DB, what, query string, args []any, scan func(interface{ Scan(...any) error }) (T, error), fn func(T) error) error {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// EachDeviationIn calls fn with every deviation created before to that was
// open at from or changed at or after it, oldest first.
func (db *DB) EachDeviationIn(ctx context.Context, from, to time.Time, fn func(model.Deviation) error) error {
	lo, hi := periodBounds(from, to)
	return eachRow(ctx, db, "deviations in period", `SELECT `+deviationCols+` FROM deviations
		WHERE created_at < ? AND (updated_at >= ? OR status IN (?, ?))
		ORDER BY created_at, year, n`,
		[]any{hi, lo, model.StatusNew, model.StatusHandling}, scanDeviation, fn)
}

type timelineRow struct {
	id string
	e  model.TimelineEvent
}

// EachTimelineIn calls fn with the timeline entries of the period, ordered by
// deviation and seq.
func (db *DB) EachTimelineIn(ctx context.Context, from, to time.Time, fn func(string, model.TimelineEvent) error) error {
	lo, hi := periodBounds(from, to)
	scan := func(s interface{ Scan(...any) error }) (timelineRow, error) {
		var r timelineRow
		var at int64
		err := s.Scan(&r.id, &r.e.Seq, &at, &r.e.Actor, &r.e.Type, &r.e.Text, &r.e.Detail)
		r.e.At = fromNanos(at)
		return r, err
	}
	return eachRow(ctx, db, "deviation timelines in period", `SELECT deviation_id, seq, at, actor, type, text, detail
		FROM deviation_timeline WHERE at >= ? AND at < ? ORDER BY deviation_id, seq`,
		[]any{lo, hi}, scan, func(r timelineRow) error { return fn(r.id, r.e) })
}

// EachMediaEventIn calls fn with the media events observed in the period,
// ordered by time and id.
func (db *DB) EachMediaEventIn(ctx context.Context, from, to time.Time, fn func(model.MediaEvent) error) error {
	lo, hi := periodBounds(from, to)
	return eachRow(ctx, db, "media events in period", `SELECT `+mediaCols+` FROM media_log m
		JOIN agents a ON a.id = m.agent_id WHERE m.at >= ? AND m.at < ? ORDER BY m.at, m.id`,
		[]any{lo, hi}, scanMedia, fn)
}

// EvidenceZoneMatrix returns what ZoneMatrix returns for [from, to), added
// up in Go from a streaming scan instead of by SQLite's DISTINCT
// aggregates: the flow_hours rows are split into rowid ranges read in
// parallel on the reader connections, each keeping 64-bit hashes of the
// distinct flows per zone pair (a hashSet), then merged. Memory grows with
// the distinct flows and agents per zone pair (8 to 16 bytes a flow), not
// with the rows of the period.
func (db *DB) EvidenceZoneMatrix(ctx context.Context, from, to time.Time) ([]model.ZonePair, error) {
	lo, hi := periodBounds(from, to)
	var minID, maxID sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(id), max(id) FROM flow_hours`).Scan(&minID, &maxID); err != nil {
		return nil, fmt.Errorf("zone matrix: %w", err)
	}
	if !minID.Valid {
		return nil, nil
	}
	workers := int64(max(1, min(runtime.GOMAXPROCS(0), 8)))
	span := (maxID.Int64 - minID.Int64 + workers) / workers
	parts := make([]map[[2]string]*matrixCell, workers)
	errs := make([]error, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seed := maphash.MakeSeed()
	var wg sync.WaitGroup
	for w := range workers {
		first := minID.Int64 + w*span
		wg.Go(func() {
			parts[w], errs[w] = db.matrixPart(ctx, seed, first, first+span, lo, hi)
			if errs[w] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("zone matrix: %w", err)
	}
	all := parts[0]
	for _, p := range parts[1:] {
		for k, c := range p {
			if a := all[k]; a != nil {
				a.merge(c)
			} else {
				all[k] = c
			}
		}
	}
	out := make([]model.ZonePair, 0, len(all))
	for k, c := range all {
		out = append(out, model.ZonePair{From: k[0], To: k[1], Flows: c.flows.len(), Hosts: len(c.agents),
			Packets: uint64(c.packets), Bytes: uint64(c.bytes), Denied: c.denied.len(), First: fromNanos(c.first), Last: fromNanos(c.last)})
	}
	slices.SortFunc(out, func(a, b model.ZonePair) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To))
	})
	return out, nil
}

// matrixCell adds up one zone pair. Packets and bytes are float64 as
// ZoneMatrix's total() is.
type matrixCell struct {
	flows, denied  hashSet
	agents         map[string]struct{}
	packets, bytes float64
	first, last    int64
}

func (c *matrixCell) merge(o *matrixCell) {
	c.flows.merge(&o.flows)
	c.denied.merge(&o.denied)
	for k := range o.agents {
		c.agents[k] = struct{}{}
	}
	c.packets += o.packets
	c.bytes += o.bytes
	c.first, c.last = min(c.first, o.first), max(c.last, o.last)
}

// hashSet is a set of 64-bit hashes kept as a slice: added hashes are
// appended, and the slice is sorted and compacted whenever it has doubled
// since the last time, so it holds at most about twice the distinct hashes
// at 8 bytes each (a map takes several times that).
type hashSet struct {
	h    []uint64
	uniq int // h[:uniq] is sorted and distinct
}

func (s *hashSet) add(v uint64) {
	s.h = append(s.h, v)
	if len(s.h) >= 2*max(s.uniq, 1024) {
		s.compact()
	}
}

func (s *hashSet) compact() {
	slices.Sort(s.h)
	s.h = slices.Compact(s.h)
	s.uniq = len(s.h)
}

func (s *hashSet) merge(o *hashSet) {
	s.h = append(s.h, o.h...)
	o.h = nil
	s.compact()
}

// len returns the number of distinct hashes.
func (s *hashSet) len() int {
	s.compact()
	return len(s.h)
}

// matrixPart adds up the rows with firstID <= id < endID of the period. It
// reads through the driver directly, and has SQLite join the zone pair and
// the flow's identity into one column each: at ten million rows the
// per-column and database/sql costs are most of the time.
func (db *DB) matrixPart(ctx context.Context, seed maphash.Seed, firstID, endID, lo, hi int64) (map[[2]string]*matrixCell, error) {
	// +hour: read the rowid range in order rather than through the hour index.
	query := `SELECT src_zone || char(31) || dst_zone, src || char(31) || dst || char(31) || proto || char(31) || dport,
		agent_id, CASE WHEN verdict = 'denied' THEN 1 ELSE 0 END, packets, bytes, first, last
		FROM flow_hours WHERE id >= ? AND id < ? AND +hour >= ? AND +hour < ?`
	if db.dialect == Postgres {
		query = strings.NewReplacer("char(31)", "chr(31)", "+hour", "hour").Replace(query)
	}
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cells := map[[2]string]*matrixCell{}
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, query, []driver.NamedValue{
			{Ordinal: 1, Value: firstID}, {Ordinal: 2, Value: endID}, {Ordinal: 3, Value: lo}, {Ordinal: 4, Value: hi}})
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			dest     = make([]driver.Value, 8)
			pair     string
			cell     *matrixCell
			seen     int
			badValue = func(i int) error { return fmt.Errorf("flow_hours column %d: unexpected %T", i, dest[i]) }
		)
		for {
			if err := rows.Next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if seen++; seen%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			p, ok1 := dest[0].(string)
			flow, ok2 := dest[1].(string)
			agent, ok3 := dest[2].(string)
			denied, ok4 := dest[3].(int64)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return badValue(0)
			}
			var n [4]int64
			for i := range n {
				v, ok := dest[4+i].(int64)
				if !ok {
					return badValue(4 + i)
				}
				n[i] = v
			}
			if cell == nil || p != pair {
				pair = p
				from, to, _ := strings.Cut(p, "\x1f")
				key := [2]string{from, to}
				if cell = cells[key]; cell == nil {
					cell = &matrixCell{agents: map[string]struct{}{}, first: math.MaxInt64, last: math.MinInt64}
					cells[key] = cell
				}
			}
			f := maphash.String(seed, flow)
			cell.flows.add(f)
			if denied != 0 {
				cell.denied.add(f)
			}
			if _, ok := cell.agents[agent]; !ok {
				cell.agents[agent] = struct{}{}
			}
			cell.packets += float64(n[0])
			cell.bytes += float64(n[1])
			cell.first, cell.last = min(cell.first, n[2]), max(cell.last, n[3])
		}
	})
	if err != nil {
		return nil, err
	}
	return cells, nil
}
