package register

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fakePolicyStore keeps policies and a register in memory, as the store
// does: versions must increase.
type fakePolicyStore struct {
	policies []wire.Policy // stored, oldest first
	register []model.MediaEntry
	// race, while positive, makes SetPolicy store a policy of "another
	// collector" first and fail with ErrConflict.
	race   int
	setErr error
}

func (s *fakePolicyStore) CurrentPolicy(ctx context.Context) (wire.Policy, error) {
	if len(s.policies) == 0 {
		return wire.Policy{Version: 1, HealthInterval: 60, InventoryInterval: 3600}, nil
	}
	return s.policies[len(s.policies)-1], nil
}

func (s *fakePolicyStore) SetPolicy(ctx context.Context, p wire.Policy) error {
	if s.setErr != nil {
		return s.setErr
	}
	cur, _ := s.CurrentPolicy(ctx)
	if s.race > 0 {
		s.race--
		other := cur
		other.Version++
		other.HealthInterval++
		s.policies = append(s.policies, other)
		return fmt.Errorf("set policy: %w", model.ErrConflict)
	}
	if p.Version <= cur.Version {
		return fmt.Errorf("set policy: version %d: %w", p.Version, model.ErrConflict)
	}
	s.policies = append(s.policies, p)
	return nil
}

func (s *fakePolicyStore) MediaRegister(ctx context.Context) ([]model.MediaEntry, error) {
	return slices.Clone(s.register), nil
}

var base = wire.MediaPolicy{Mode: wire.MediaModeBlock, LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT"}

func TestSyncPolicy(t *testing.T) {
	ctx := t.Context()
	st := &fakePolicyStore{register: []model.MediaEntry{
		{VID: "0781", PID: "5583", Serial: "B"},
		{VID: "0781", PID: "5583", Serial: "A"},
		{VID: "090c", PID: "1000"},
		{Serial: "/srv/img/stick.img"},
	}}
	changed, err := SyncPolicy(ctx, st, PolicyBase{Media: base})
	if err != nil || !changed {
		t.Fatalf("first sync = %v, %v; want a new policy", changed, err)
	}
	p, _ := st.CurrentPolicy(ctx)
	if p.Version != 2 || p.HealthInterval != 60 || p.InventoryInterval != 3600 || p.Media == nil {
		t.Fatalf("policy %+v: want version 2 with the other fields kept", p)
	}
	want := []string{"0781:5583:A", "0781:5583:B", "090c:1000:", "::/srv/img/stick.img"}
	if m := *p.Media; m.Mode != base.Mode || m.LabelPattern != base.LabelPattern || m.MarkerFile != base.MarkerFile || !slices.Equal(m.Allowed, want) {
		t.Errorf("media policy %+v, want %v allowed", m, want)
	}

	// Nothing changed: no new version.
	if changed, err := SyncPolicy(ctx, st, PolicyBase{Media: base}); err != nil || changed || len(st.policies) != 1 {
		t.Errorf("second sync = %v, %v (%d policies); want nothing stored", changed, err, len(st.policies))
	}

	// The register changes: a new version.
	st.register = st.register[1:]
	if changed, err := SyncPolicy(ctx, st, PolicyBase{Media: base}); err != nil || !changed {
		t.Fatalf("sync after a register change = %v, %v", changed, err)
	}
	p, _ = st.CurrentPolicy(ctx)
	if p.Version != 3 || len(p.Media.Allowed) != 3 {
		t.Errorf("policy %+v", p)
	}

	// The configuration changes: a new version.
	b := base
	b.EnforceOptical = true
	if changed, err := SyncPolicy(ctx, st, PolicyBase{Media: b}); err != nil || !changed {
		t.Fatalf("sync after a config change = %v, %v", changed, err)
	}
	p, _ = st.CurrentPolicy(ctx)
	if p.Version != 4 || !p.Media.EnforceOptical {
		t.Errorf("policy %+v", p)
	}
}

func TestSyncPolicyEmpty(t *testing.T) {
	st := &fakePolicyStore{}
	// No configuration, no register: the default policy already says so.
	if changed, err := SyncPolicy(t.Context(), st, PolicyBase{Media: wire.MediaPolicy{}}); err != nil || changed {
		t.Errorf("sync = %v, %v; want nothing to do", changed, err)
	}
	// A stored empty allow-list equals none.
	st.policies = []wire.Policy{{Version: 5, Media: &wire.MediaPolicy{Allowed: []string{}}}}
	if changed, err := SyncPolicy(t.Context(), st, PolicyBase{Media: wire.MediaPolicy{}}); err != nil || changed {
		t.Errorf("sync = %v, %v; want nothing to do", changed, err)
	}
}

func TestSyncPolicyRace(t *testing.T) {
	st := &fakePolicyStore{register: []model.MediaEntry{{VID: "0781", PID: "5583"}}, race: 2}
	changed, err := SyncPolicy(t.Context(), st, PolicyBase{Media: base})
	if err != nil || !changed {
		t.Fatalf("sync = %v, %v", changed, err)
	}
	p, _ := st.CurrentPolicy(t.Context())
	if p.Version != 4 || p.HealthInterval != 62 || p.Media == nil || !slices.Equal(p.Media.Allowed, []string{"0781:5583:"}) {
		t.Errorf("policy %+v: want ours on top of the two others, their fields kept", p)
	}

	st = &fakePolicyStore{register: []model.MediaEntry{{VID: "0781", PID: "5583"}}, race: 100}
	if _, err := SyncPolicy(t.Context(), st, PolicyBase{Media: base}); !errors.Is(err, model.ErrConflict) {
		t.Errorf("sync against endless writers = %v, want ErrConflict", err)
	}
}

func TestSyncPolicyErrors(t *testing.T) {
	boom := errors.New("database is locked")
	st := &fakePolicyStore{register: []model.MediaEntry{{Serial: "A"}}, setErr: boom}
	if _, err := SyncPolicy(t.Context(), st, PolicyBase{Media: base}); !errors.Is(err, boom) {
		t.Errorf("sync = %v, want the store's error", err)
	}
	if _, err := SyncPolicy(t.Context(), &fakePolicyStore{}, PolicyBase{Media: wire.MediaPolicy{Mode: "deny"}}); err == nil {
		t.Error("sync with an invalid mode succeeded")
	}
}

func TestSyncPolicyZones(t *testing.T) {
	ctx := t.Context()
	st := &fakePolicyStore{}
	zones := &wire.ZonePolicy{
		Zones:    []wire.ZoneDef{{Name: "helse", Kind: "sensitive", Prefixes: []string{"10.9.0.0/16"}}},
		Firewall: []wire.FirewallRule{{ID: "fw-1", From: "helse", To: "external", Proto: "tcp", Ports: []string{"443"}, Justification: "Journal i skyen"}},
	}
	if changed, err := SyncPolicy(ctx, st, PolicyBase{Zones: zones}); err != nil || !changed {
		t.Fatalf("first sync with zones = %v, %v; want a new version", changed, err)
	}
	p, _ := st.CurrentPolicy(ctx)
	if p.Zones == nil || p.Zones.Firewall[0].ID != "fw-1" {
		t.Fatalf("policy zones = %+v", p.Zones)
	}
	// The same zones again: nothing to do.
	same := *zones
	if changed, err := SyncPolicy(ctx, st, PolicyBase{Zones: &same}); err != nil || changed {
		t.Errorf("sync with the same zones = %v, %v; want nothing to do", changed, err)
	}
	// A changed firewall map makes a new version; the media part stays.
	changedZones := *zones
	changedZones.Firewall = append([]wire.FirewallRule(nil), zones.Firewall...)
	changedZones.Firewall[0].Ports = []string{"443", "8443"}
	if changed, err := SyncPolicy(ctx, st, PolicyBase{Zones: &changedZones}); err != nil || !changed {
		t.Errorf("sync with a changed firewall map = %v, %v; want a new version", changed, err)
	}
	// Zones removed from the configuration: agents are told.
	if changed, err := SyncPolicy(ctx, st, PolicyBase{}); err != nil || !changed {
		t.Errorf("sync without zones = %v, %v; want a new version", changed, err)
	}
	if p, _ := st.CurrentPolicy(ctx); p.Zones != nil {
		t.Errorf("policy zones after removal = %+v, want none", p.Zones)
	}
}
