package configmap

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// SnapshotStore is where snapshots go; model.ConfigMapStore is one.
type SnapshotStore interface {
	SaveMapSnapshot(ctx context.Context, s model.MapSnapshot) (int64, error)
	ListMapSnapshots(ctx context.Context, limit int) ([]model.MapSnapshot, error)
}

// SystemActor is who the daily snapshot is taken by in the audit log.
const SystemActor = "system"

// Take builds the current map with build and stores it as a snapshot by
// actor with note; it returns the snapshot's id.
func Take(ctx context.Context, st SnapshotStore, build func(context.Context) (Map, error), actor, note string) (int64, error) {
	m, err := build(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	s, err := Encode(m, actor, note)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	id, err := st.SaveMapSnapshot(ctx, s)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	return id, nil
}

// Snapshotter takes a snapshot of the map every Every (24 hours by
// default): the first at start when the newest is older than Every.
type Snapshotter struct {
	Store SnapshotStore
	// Build returns the current map, e.g. Build(ctx, store, opts) bound.
	Build func(ctx context.Context) (Map, error)
	Every time.Duration    // 0 means 24 hours
	Now   func() time.Time // nil means time.Now
	Log   *slog.Logger     // nil discards
}

// Due reports whether a snapshot is due at now: none is stored, or the
// newest is at least Every old.
func (s *Snapshotter) Due(ctx context.Context, now time.Time) (bool, error) {
	last, err := s.Store.ListMapSnapshots(ctx, 1)
	if err != nil {
		return false, fmt.Errorf("snapshot due: %w", err)
	}
	return len(last) == 0 || now.Sub(last[0].At) >= s.every(), nil
}

// Tick takes a snapshot when one is due, and reports whether it did.
func (s *Snapshotter) Tick(ctx context.Context) (bool, error) {
	due, err := s.Due(ctx, s.now())
	if err != nil || !due {
		return false, err
	}
	if _, err := Take(ctx, s.Store, s.Build, SystemActor, "daily"); err != nil {
		return false, err
	}
	return true, nil
}

// Run ticks at start and then every hour (so that a restart never skips a
// day), until ctx ends. Failures are logged and retried at the next tick.
func (s *Snapshotter) Run(ctx context.Context) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	check := min(time.Hour, s.every())
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		if took, err := s.Tick(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Error("configuration map snapshot failed", "err", err)
		} else if took {
			log.Info("configuration map snapshot taken")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Snapshotter) every() time.Duration {
	if s.Every <= 0 {
		return 24 * time.Hour
	}
	return s.Every
}

func (s *Snapshotter) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
