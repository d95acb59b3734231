package configmap

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Source is what Build reads: the asset register, the agents' identities,
// the devices seen on the wire and the zone flow matrix. model.Store is one.
type Source interface {
	Assets(ctx context.Context) ([]model.Asset, error)
	HostIdentities(ctx context.Context) ([]model.HostIdentity, error)
	Neighbours(ctx context.Context) ([]model.Neighbour, error)
	ZoneMatrix(ctx context.Context, from, to time.Time) ([]model.ZonePair, error)
}

// LinkWindow is how far back Build adds up zone links.
const LinkWindow = 7 * 24 * time.Hour

// BuildOptions tune Build beyond Reconcile's Options.
type BuildOptions struct {
	Options
	// Allowed judges a zone link by the firewall map. Nil judges a link
	// allowed when the agents judged none of its flows denied.
	Allowed func(from, to string) bool
	// ZoneOf places an address in a zone, so that hosts and devices carry
	// one. Nil leaves them without a zone.
	ZoneOf func(ip netip.Addr) string
}

// Build reads src and reconciles it into the current map; opt.Now zero means
// time.Now. Zone links add up the last seven days.
func Build(ctx context.Context, src Source, opt BuildOptions) (Map, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	assets, err := src.Assets(ctx)
	if err != nil {
		return Map{}, fmt.Errorf("configuration map: %w", err)
	}
	ids, err := src.HostIdentities(ctx)
	if err != nil {
		return Map{}, fmt.Errorf("configuration map: %w", err)
	}
	ns, err := src.Neighbours(ctx)
	if err != nil {
		return Map{}, fmt.Errorf("configuration map: %w", err)
	}
	pairs, err := src.ZoneMatrix(ctx, opt.Now.Add(-LinkWindow), time.Time{})
	if err != nil {
		return Map{}, fmt.Errorf("configuration map: %w", err)
	}
	hosts := make([]Host, len(ids))
	for i, id := range ids {
		hosts[i] = HostFromIdentity(id)
		if opt.ZoneOf != nil {
			hosts[i].Zone = zoneOfAny(opt.ZoneOf, id.Addrs)
		}
	}
	devices := make([]Device, len(ns))
	for i, n := range ns {
		devices[i] = DeviceFromNeighbour(n)
	}
	links := make([]Link, len(pairs))
	for i, p := range pairs {
		allowed := p.Denied == 0
		if opt.Allowed != nil {
			allowed = opt.Allowed(p.From, p.To)
		}
		links[i] = Link{From: p.From, To: p.To, Flows: p.Flows, Allowed: allowed}
	}
	m := Reconcile(assets, hosts, devices, links, opt.Options)
	if opt.ZoneOf != nil {
		for i := range m.Entries {
			if e := &m.Entries[i]; e.Kind == KindDevice && e.Zone == "" {
				e.Zone = zoneOfAny(opt.ZoneOf, e.IPs)
			}
		}
	}
	return m, nil
}

func zoneOfAny(zoneOf func(netip.Addr) string, ips []string) string {
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil {
			if z := zoneOf(ip); z != "" {
				return z
			}
		}
	}
	return ""
}

// HostFromIdentity converts what the store knows of an agent into a Host.
func HostFromIdentity(id model.HostIdentity) Host {
	return Host{
		AgentID:       id.AgentID,
		Hostname:      id.Hostname,
		Serial:        id.Serial,
		AssetTag:      id.AssetTag,
		MACs:          id.MACs,
		IPs:           id.Addrs,
		LastSeen:      id.LastSeen,
		Revoked:       id.Revoked,
		SerialHistory: id.SerialHistory,
	}
}

// DeviceFromNeighbour converts a device the traffic store keeps into a Device.
func DeviceFromNeighbour(n model.Neighbour) Device {
	d := Device{MAC: n.MAC, IPs: n.IPs, Name: n.Name, Vendor: n.Vendor, SeenBy: n.SeenByAgents}
	if n.Last != 0 {
		d.Last = time.Unix(0, n.Last).UTC()
	}
	return d
}
