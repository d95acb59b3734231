package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// fakeConfigMap is the fake store's part for the configuration map: its
// snapshots, and a failure to inject. The identities come from the fake's
// hosts and inventories.
type fakeConfigMap struct {
	snaps []model.MapSnapshot // by id, oldest first
	fail  error               // when set, every method returns it
}

var _ model.ConfigMapStore = (*fakeStore)(nil)

func (f *fakeStore) HostIdentities(context.Context) ([]model.HostIdentity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmap.fail != nil {
		return nil, f.cmap.fail
	}
	var out []model.HostIdentity
	for id, h := range f.hosts {
		a := f.agents[id]
		hi := model.HostIdentity{AgentID: id, Hostname: cmp.Or(a.Hostname, h.Hostname), Revoked: a.Revoked(), LastSeen: a.LastSeen}
		if h.Facts != nil {
			for _, it := range h.Facts.Interfaces {
				if m, ok := model.NormalizeMAC(it.MAC); ok {
					hi.MACs = append(hi.MACs, m)
				}
			}
		}
		if inv, ok := f.invs[id]; ok && inv.inv.Hardware != nil {
			hi.Serial, hi.AssetTag = inv.inv.Hardware.System.Serial, inv.inv.Hardware.System.AssetTag
		}
		out = append(out, hi)
	}
	slices.SortFunc(out, func(a, b model.HostIdentity) int { return cmp.Compare(a.AgentID, b.AgentID) })
	return out, nil
}

func (f *fakeStore) SaveMapSnapshot(_ context.Context, s model.MapSnapshot) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmap.fail != nil {
		return 0, f.cmap.fail
	}
	if len(s.JSON) == 0 || s.At.IsZero() {
		return 0, fmt.Errorf("save map snapshot: %w", model.ErrInvalid)
	}
	s.ID = int64(len(f.cmap.snaps) + 1)
	f.cmap.snaps = append(f.cmap.snaps, s)
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: s.At, Actor: s.TakenBy,
		Action: "configmap.snapshot", Subject: fmt.Sprint(s.ID)})
	return s.ID, nil
}

func (f *fakeStore) ListMapSnapshots(_ context.Context, limit int) ([]model.MapSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmap.fail != nil {
		return nil, f.cmap.fail
	}
	if limit <= 0 {
		return nil, fmt.Errorf("list map snapshots: %w", model.ErrInvalid)
	}
	var out []model.MapSnapshot
	for i := len(f.cmap.snaps) - 1; i >= 0 && len(out) < limit; i-- {
		s := f.cmap.snaps[i]
		s.JSON = nil
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeStore) GetMapSnapshot(_ context.Context, id int64) (model.MapSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmap.fail != nil {
		return model.MapSnapshot{}, f.cmap.fail
	}
	if id < 1 || id > int64(len(f.cmap.snaps)) {
		return model.MapSnapshot{}, notFound("map snapshot", fmt.Sprint(id))
	}
	return f.cmap.snaps[id-1], nil
}

func (f *fakeStore) mapSnapshots() []model.MapSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmap.snaps)
}
