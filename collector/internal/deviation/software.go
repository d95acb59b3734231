package deviation

import (
	"context"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// DefaultSoftwareInterval is how often the software catalogue is judged
// against every host's packages without being woken by WakeSoftware, so that
// exceptions that expired and conditions that were missed come back.
const DefaultSoftwareInterval = 15 * time.Minute

// WakeSoftware asks the engine to judge installed software anew at the next
// host evaluation, and to run that soon: after an inventory arrived or the
// catalogue changed. Between wakes the software conditions stand as judged,
// since reading every host's packages is the host rules' dearest step.
func (e *Engine) WakeSoftware() {
	e.swDirty.Store(true)
	e.WakeHosts()
}

// softwareDue reports whether this host evaluation judges software: when
// woken, or DefaultSoftwareInterval after the last time.
func (e *Engine) softwareDue(now time.Time) bool {
	return e.swDirty.Swap(false) || now.Sub(e.swLast) >= DefaultSoftwareInterval
}

// SoftwareStore is what the unapproved-software evaluation needs of the
// store: the catalogue, and every host's installed packages.
type SoftwareStore interface {
	SoftwareCatalog(ctx context.Context) ([]model.SoftwareEntry, error)
	EachHostSoftware(ctx context.Context, fn func(agentID, hostname string, pkgs []wire.Package) error) error
}

// Every store driver is a SoftwareStore.
var _ SoftwareStore = model.Store(nil)

// softwareFindings judges every host's installed packages against the
// software catalogue (rules.Software), each host in the zone and owner unit
// the configuration map gives it. The packages are a standing condition:
// the caller records the findings with RecordStanding over every subject of
// the rule, so a package removed, approved or no longer denied clears.
// ok is false when the rule is off, so that nothing is recorded.
func (e *Engine) softwareFindings(ctx context.Context, st SoftwareStore, in rules.HostInput, now time.Time) (fs []model.NewDeviation, ok bool, err error) {
	if !e.cfg.Rules.Enabled(rules.UnapprovedSoftware) {
		return nil, false, nil
	}
	cat, err := st.SoftwareCatalog(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("read software catalogue: %w", err)
	}
	idx, err := rules.NewSoftwareIndex(cat, e.cfg.SoftwareMode)
	if err != nil {
		return nil, false, err
	}
	if idx.Len() == 0 && idx.Mode() == rules.SoftwareDenylist {
		return nil, true, nil // nothing is denied: every condition clears
	}
	err = st.EachHostSoftware(ctx, func(agentID, hostname string, pkgs []wire.Package) error {
		var z zone.Zone
		if h, ok := in.Hosts[agentID]; ok && h.Zone != "" {
			z = e.zoneNamed(h.Zone)
		}
		sin := rules.SoftwareInput{AgentID: agentID, Hostname: hostname, At: now, Packages: pkgs, Zone: z}
		for _, f := range rules.Software(sin, idx, e.cfg.Rules) {
			fs = append(fs, e.open(f, e.agentUnit(agentID), now))
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return fs, true, nil
}

// assetUnits returns, by agent id, the owner unit of the asset each agent
// matched in the map.
func assetUnits(m configmap.Map) map[string]string {
	out := map[string]string{}
	for _, en := range m.Entries {
		if en.Asset == nil || en.Asset.OwnerUnit == "" {
			continue
		}
		for _, id := range en.AgentIDs {
			out[id] = en.Asset.OwnerUnit
		}
	}
	return out
}

// zoneNamed returns the configured zone of that name; the zero Zone when
// none is configured.
func (e *Engine) zoneNamed(name string) zone.Zone {
	if e.cfg.ZoneMap != nil {
		if i, ok := e.cfg.ZoneMap.Index(name); ok {
			return e.cfg.ZoneMap.ZoneByIndex(i)
		}
	}
	if z, ok := e.cfg.Zones.Zone(name); ok {
		return z
	}
	return zone.Zone{}
}
