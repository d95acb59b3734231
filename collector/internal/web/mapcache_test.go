package web

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
)

// Requests that arrive together share one build of the map; a change
// published after a build makes the next request build again.
func TestCurrentMapSharesBuilds(t *testing.T) {
	e := newEnv(t, false)
	var builds atomic.Int32
	release := make(chan struct{})
	hub := NewHub(HubOptions{})
	t.Cleanup(hub.Close)
	srv, err := New(Config{Store: e.store, Now: e.clock.now, MapSnapshots: e.store, Live: hub,
		ConfigMap: func(context.Context) (configmap.Map, error) {
			if builds.Add(1) == 1 {
				<-release // the first build is slow: the others arrive meanwhile
			}
			return configmap.Map{At: e.clock.now()}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := srv.currentMap(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	for builds.Load() == 0 {
		runtime.Gosched() // wait until the first build has begun
	}
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("20 requests during one build made %d builds, want 1", n)
	}
	if _, err := srv.currentMap(t.Context()); err != nil || builds.Load() != 1 {
		t.Errorf("an unchanged map was built again (%d builds, %v)", builds.Load(), err)
	}
	hub.Publish("hosts")
	if _, err := srv.currentMap(t.Context()); err != nil || builds.Load() != 2 {
		t.Errorf("after a published change: %d builds (%v), want 2", builds.Load(), err)
	}
}
