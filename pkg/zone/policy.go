package zone

import (
	"fmt"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// policySource names a policy in errors, where a file's name would be.
const policySource = "policy"

// FromPolicy makes a Map of the zones and firewall map the collector pushed
// (see Map.Policy). It validates as Parse does; errors name the element,
// "policy: zones[2]: zone "helse": …".
func FromPolicy(p wire.ZonePolicy) (*Map, error) {
	zdefs := make([]zoneDef, len(p.Zones))
	for i, z := range p.Zones {
		at := where{src: policySource, elem: fmt.Sprintf("zones[%d]", i)}
		d := zoneDef{name: z.Name, kind: z.Kind, purpose: z.Purpose, parent: z.Parent,
			at: at, nameAt: at, kindAt: at, parentAt: at}
		for j, s := range z.Prefixes {
			d.prefixes = append(d.prefixes, prefixDef{text: s,
				at: where{src: policySource, elem: fmt.Sprintf("zones[%d].prefixes[%d]", i, j)}})
		}
		zdefs[i] = d
	}
	rdefs := make([]ruleDef, len(p.Firewall))
	for i, r := range p.Firewall {
		at := where{src: policySource, elem: fmt.Sprintf("firewall[%d]", i)}
		d := ruleDef{id: r.ID, from: r.From, to: r.To, proto: r.Proto,
			justification: r.Justification, owner: r.Owner,
			at: at, idAt: at, fromAt: at, toAt: at, protoAt: at, justAt: at}
		for j, s := range r.Ports {
			d.ports = append(d.ports, portDef{text: s,
				at: where{src: policySource, elem: fmt.Sprintf("firewall[%d].ports[%d]", i, j)}})
		}
		rdefs[i] = d
	}
	return build(zdefs, rdefs)
}

// Policy returns the map as the collector pushes it to agents: the zones the
// file defined (not the implicit external zone) and every rule with its ID.
// FromPolicy of it gives the same map back.
func (m *Map) Policy() wire.ZonePolicy {
	if m == nil {
		return wire.ZonePolicy{Zones: []wire.ZoneDef{}}
	}
	p := wire.ZonePolicy{Zones: make([]wire.ZoneDef, m.listed)}
	for i, z := range m.zones[:m.listed] {
		d := wire.ZoneDef{Name: z.Name, Kind: z.Level, Purpose: z.Purpose, Parent: z.Parent}
		for _, c := range z.CIDRs {
			d.Prefixes = append(d.Prefixes, c.String())
		}
		p.Zones[i] = d
	}
	for _, r := range m.rules {
		f := wire.FirewallRule{ID: r.ID, From: r.From, To: r.To, Proto: r.Proto,
			Justification: r.Justification, Owner: r.Owner}
		for _, pr := range r.Ports {
			f.Ports = append(f.Ports, pr.String())
		}
		p.Firewall = append(p.Firewall, f)
	}
	return p
}
