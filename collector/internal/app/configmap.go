package app

import (
	"context"
	"net/netip"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
)

// buildMap builds the current configuration map: the asset register against
// what agents report and what was seen on the wire, hosts and devices placed
// in zones by the zones file, and zone links judged by its firewall map (a
// link is allowed when a rule opens that zone pair at all).
func (e *Env) buildMap(ctx context.Context) (configmap.Map, error) {
	opt := configmap.BuildOptions{Options: configmap.Options{SilentAfter: e.Cfg.SilentAfter()}}
	if m := e.Zones; m != nil {
		opt.ZoneOf = func(ip netip.Addr) string { return m.ZoneOf(ip).Name }
		pairs := map[[2]string]bool{}
		for _, r := range m.Rules() {
			pairs[[2]string{r.From, r.To}] = true
		}
		opt.Allowed = func(from, to string) bool { return pairs[[2]string{from, to}] }
	}
	return configmap.Build(ctx, e.Store, opt)
}

// startSnapshots takes a snapshot of the configuration map every day (and
// at start when the newest is older), so that "what changed since last
// year's review" can be answered; stop waits for it.
func (e *Env) startSnapshots(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s := &configmap.Snapshotter{Store: e.Store, Build: e.buildMap, Log: e.Log.With("part", "configmap")}
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
