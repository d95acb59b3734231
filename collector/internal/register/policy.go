package register

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// PolicyStore is what SyncPolicy needs of the store.
type PolicyStore interface {
	CurrentPolicy(ctx context.Context) (wire.Policy, error)
	SetPolicy(ctx context.Context, p wire.Policy) error
	MediaRegister(ctx context.Context) ([]model.MediaEntry, error)
}

// syncAttempts bounds the retries when another writer stores a policy
// between our read and our write.
const syncAttempts = 5

// MediaPolicy returns the media policy agents get: base (mode, marking,
// optical drives, from the collector's configuration) with Allowed set to the
// register's keys, sorted and without repeats.
func MediaPolicy(base wire.MediaPolicy, register []model.MediaEntry) wire.MediaPolicy {
	p := base
	p.Allowed = nil
	for _, e := range register {
		p.Allowed = append(p.Allowed, e.Key())
	}
	slices.Sort(p.Allowed)
	p.Allowed = slices.Compact(p.Allowed)
	return p
}

// PolicyBase is what the collector's configuration says the policy pushed
// to agents holds, before the registers add to it.
type PolicyBase struct {
	// Media is the media policy: mode, marking, optical drives. The media
	// register's keys become its allow-list.
	Media wire.MediaPolicy
	// Zones is the zone table and firewall map agents classify and judge
	// flows by; nil when the collector has none.
	Zones *wire.ZonePolicy
}

// SyncPolicy makes the current policy's media and zone parts what the
// configuration and the register say (MediaPolicy, base.Zones). When they
// differ, a new policy version is stored (the current version + 1, every
// other field kept) and agents pick it up on their control streams; changed
// reports whether that happened. A policy written by another collector
// meanwhile is read again and compared anew.
func SyncPolicy(ctx context.Context, store PolicyStore, base PolicyBase) (changed bool, err error) {
	reg, err := store.MediaRegister(ctx)
	if err != nil {
		return false, fmt.Errorf("sync policy: %w", err)
	}
	want := MediaPolicy(base.Media, reg)
	if err := want.Validate(); err != nil {
		return false, fmt.Errorf("sync policy: %w", err)
	}
	for range syncAttempts {
		cur, err := store.CurrentPolicy(ctx)
		if err != nil {
			return false, fmt.Errorf("sync policy: %w", err)
		}
		var have wire.MediaPolicy
		if cur.Media != nil {
			have = *cur.Media
		}
		if sameMedia(have, want) && sameZones(cur.Zones, base.Zones) {
			return false, nil
		}
		next := cur
		next.Version++
		next.Media = &want
		next.Zones = base.Zones
		err = store.SetPolicy(ctx, next)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, model.ErrConflict) {
			return false, fmt.Errorf("sync policy: store version %d: %w", next.Version, err)
		}
	}
	return false, fmt.Errorf("sync policy: other writers kept storing policies; gave up after %d attempts: %w", syncAttempts, model.ErrConflict)
}

// sameZones reports whether two zone policies say the same, none and an
// empty one being the same.
func sameZones(a, b *wire.ZonePolicy) bool {
	empty := func(z *wire.ZonePolicy) bool { return z == nil || (len(z.Zones) == 0 && len(z.Firewall) == 0) }
	if empty(a) || empty(b) {
		return empty(a) == empty(b)
	}
	return reflect.DeepEqual(a, b)
}

// sameMedia reports whether two media policies say the same, an empty
// allow-list and none being the same.
func sameMedia(a, b wire.MediaPolicy) bool {
	return a.Mode == b.Mode && a.LabelPattern == b.LabelPattern && a.MarkerFile == b.MarkerFile &&
		a.EnforceOptical == b.EnforceOptical && slices.Equal(a.Allowed, b.Allowed)
}
