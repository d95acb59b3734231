package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// fakeTraffic is an in-memory model.TrafficStore for the web tests. It keeps
// hourly flows as given and adds them up the way the interface describes;
// storetest is the conformance reference.
type fakeTraffic struct {
	mu         sync.Mutex
	flows      []model.FlowHour
	neighbours []model.Neighbour
	queries    []model.FlowQuery // every Flows call, for tests of what the web asked
	err        error             // when set, every method returns it
}

var _ model.TrafficStore = (*fakeTraffic)(nil)

func newFakeTraffic() *fakeTraffic { return &fakeTraffic{} }

// addFlows stores hourly flows, numbering them from 1 in the order given.
func (f *fakeTraffic) addFlows(hs ...model.FlowHour) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range hs {
		h.ID = int64(len(f.flows) + 1)
		f.flows = append(f.flows, h)
	}
}

func (f *fakeTraffic) addNeighbours(ns ...model.Neighbour) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.neighbours = append(f.neighbours, ns...)
}

func (f *fakeTraffic) lastQuery() model.FlowQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) == 0 {
		return model.FlowQuery{}
	}
	return f.queries[len(f.queries)-1]
}

func inHours(h, from, to time.Time) bool {
	return (from.IsZero() || !h.Before(from)) && (to.IsZero() || h.Before(to))
}

func (f *fakeTraffic) Flows(_ context.Context, q model.FlowQuery) ([]model.FlowHour, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("flows: limit %d: %w", q.Limit, model.ErrInvalid)
	}
	var out []model.FlowHour
	for _, h := range f.flows {
		if (q.AgentID == "" || h.AgentID == q.AgentID) &&
			(q.Zone == "" || h.SrcZone == q.Zone || h.DstZone == q.Zone) &&
			(q.SrcZone == "" || h.SrcZone == q.SrcZone) && (q.DstZone == "" || h.DstZone == q.DstZone) &&
			(q.Verdict == "" || h.Verdict == q.Verdict) && inHours(h.Hour, q.From, q.To) {
			out = append(out, h)
		}
	}
	slices.SortStableFunc(out, func(a, b model.FlowHour) int {
		return cmp.Or(b.Hour.Compare(a.Hour), cmp.Compare(b.ID, a.ID))
	})
	return out[:min(len(out), q.Limit)], nil
}

func (f *fakeTraffic) ZoneMatrix(_ context.Context, from, to time.Time) ([]model.ZonePair, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	type flowKey struct {
		src, dst, proto string
		port            uint16
	}
	pairs := map[[2]string]*model.ZonePair{}
	keys := map[[2]string]map[flowKey]bool{}
	agents := map[[2]string]map[string]bool{}
	for _, h := range f.flows {
		if h.SrcZone == h.DstZone || !inHours(h.Hour, from, to) {
			continue
		}
		k := [2]string{h.SrcZone, h.DstZone}
		p := pairs[k]
		if p == nil {
			p = &model.ZonePair{From: h.SrcZone, To: h.DstZone, First: h.First, Last: h.Last}
			pairs[k], keys[k], agents[k] = p, map[flowKey]bool{}, map[string]bool{}
		}
		fk := flowKey{h.Src, h.Dst, h.Proto, h.DPort}
		if !keys[k][fk] {
			keys[k][fk] = true
			p.Flows++
			if h.Verdict == "denied" {
				p.Denied++
			}
		}
		agents[k][h.AgentID] = true
		p.Hosts = len(agents[k])
		p.Packets += h.Packets
		p.Bytes += h.Bytes
		if h.First.Before(p.First) {
			p.First = h.First
		}
		if h.Last.After(p.Last) {
			p.Last = h.Last
		}
	}
	out := make([]model.ZonePair, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b model.ZonePair) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	return out, nil
}

func (f *fakeTraffic) PendingFlows(_ context.Context, limit int) ([]model.FlowHour, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []model.FlowHour
	for _, h := range f.flows {
		if !h.Evaluated && len(out) < limit {
			out = append(out, h)
		}
	}
	return out, nil
}

func (f *fakeTraffic) Neighbours(context.Context) ([]model.Neighbour, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := slices.Clone(f.neighbours)
	slices.SortFunc(out, func(a, b model.Neighbour) int { return cmp.Compare(a.MAC, b.MAC) })
	return out, nil
}

// zoneHolder hands the server the zone map a test sets, as the app hands it
// the one it loaded.
type zoneHolder struct {
	mu sync.Mutex
	m  *zone.Map
}

func (z *zoneHolder) get() *zone.Map {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.m
}

func (z *zoneHolder) set(m *zone.Map) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.m = m
}
