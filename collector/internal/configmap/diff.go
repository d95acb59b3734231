package configmap

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Diff returns the changes from map a to map b, sorted by kind, then key.
// An entry is changed when its state or its summary (hostname, serial, zone,
// unit, agents, MACs) differs; last-seen times, addresses and reasons are
// too volatile to count.
func Diff(a, b Map) []Change {
	type key struct{ kind, key string }
	before := make(map[key]Entry, len(a.Entries))
	for _, e := range a.Entries {
		before[key{e.Kind, e.Key()}] = e
	}
	var out []Change
	seen := make(map[key]bool, len(b.Entries))
	for _, e := range b.Entries {
		k := key{e.Kind, e.Key()}
		seen[k] = true
		old, ok := before[k]
		switch {
		case !ok:
			out = append(out, Change{Key: k.key, Kind: k.kind, Op: OpAdded, After: Summary(e)})
		case Summary(old) != Summary(e):
			out = append(out, Change{Key: k.key, Kind: k.kind, Op: OpChanged, Before: Summary(old), After: Summary(e)})
		}
	}
	for _, e := range a.Entries {
		k := key{e.Kind, e.Key()}
		if !seen[k] {
			out = append(out, Change{Key: k.key, Kind: k.kind, Op: OpRemoved, Before: Summary(e)})
		}
	}
	slices.SortFunc(out, func(x, y Change) int {
		return cmp.Or(cmp.Compare(kindOrder(x.Kind), kindOrder(y.Kind)), cmp.Compare(x.Key, y.Key))
	})
	return out
}

// Summary renders the stable part of an entry: its state, then the fields
// that are set, e.g. "matched; host pc-1; serial ABC; zone adm; agents a1".
// A device's agents are the ones that happened to see it, so they are left
// out.
func Summary(e Entry) string {
	var b strings.Builder
	b.WriteString(string(e.State))
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, "; %s %s", name, v)
		}
	}
	field("host", e.Hostname)
	field("serial", e.Serial)
	field("zone", e.Zone)
	field("unit", e.Unit)
	if e.Kind != KindDevice {
		agents := slices.Clone(e.AgentIDs)
		slices.Sort(agents)
		field("agents", strings.Join(agents, ","))
	}
	macs := slices.Clone(e.MACs)
	slices.Sort(macs)
	field("macs", strings.Join(macs, ","))
	return b.String()
}
