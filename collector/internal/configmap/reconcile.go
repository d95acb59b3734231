package configmap

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// junkSerials are the serial numbers firmware ships when the vendor did not
// fill one in, lower-cased; they identify nothing.
var junkSerials = map[string]bool{
	"":                         true,
	"0":                        true,
	"none":                     true,
	"n/a":                      true,
	"na":                       true,
	"null":                     true,
	"unknown":                  true,
	"default":                  true,
	"default string":           true,
	"to be filled by o.e.m.":   true,
	"to be filled by oem":      true,
	"system serial number":     true,
	"chassis serial number":    true,
	"base board serial number": true,
	"not specified":            true,
	"not applicable":           true,
	"not available":            true,
	"invalid":                  true,
	"123456789":                true,
	"0123456789":               true,
	"1234567890":               true,
}

// SerialKey returns the form serials are compared in: trimmed and
// lower-cased; ok is false for a junk serial that must never match.
func SerialKey(s string) (key string, ok bool) {
	key = strings.ToLower(strings.TrimSpace(s))
	if junkSerials[key] || strings.Trim(key, "0") == "" || strings.Trim(key, "x") == "" {
		return "", false
	}
	return key, true
}

// How a host matched an asset.
const (
	bySerial = "serial"
	byMAC    = "mac"
	byTag    = "tag"
)

// match is one host matching one asset.
type match struct {
	host  int    // index into hosts
	asset int    // index into assets
	by    string // bySerial, byMAC or byTag
	what  string // the serial, MAC or tag that matched
}

// index finds assets by serial, MAC and tag.
type index struct {
	serial map[string][]int
	mac    map[string][]int
	tag    map[string][]int
}

func newIndex(assets []model.Asset, active bool) index {
	ix := index{serial: map[string][]int{}, mac: map[string][]int{}, tag: map[string][]int{}}
	for i, a := range assets {
		if (a.Status != model.AssetRetired) != active {
			continue
		}
		if k, ok := SerialKey(a.Serial); ok {
			ix.serial[k] = append(ix.serial[k], i)
		}
		for _, m := range a.MACs {
			if m = normMAC(m); m != "" {
				ix.mac[m] = appendOnce(ix.mac[m], i)
			}
		}
		if k, ok := SerialKey(a.Tag); ok {
			ix.tag[k] = append(ix.tag[k], i)
		}
	}
	return ix
}

// find returns the assets host h matches by the first method that finds
// any: serial, then MAC, then asset tag.
func (ix index) find(hi int, h Host) []match {
	if k, ok := SerialKey(h.Serial); ok {
		if as := ix.serial[k]; len(as) > 0 {
			out := make([]match, 0, len(as))
			for _, a := range as {
				out = append(out, match{hi, a, bySerial, strings.TrimSpace(h.Serial)})
			}
			return out
		}
	}
	var out []match
	for _, m := range h.MACs {
		m = normMAC(m)
		for _, a := range ix.mac[m] {
			if !slices.ContainsFunc(out, func(x match) bool { return x.asset == a }) {
				out = append(out, match{hi, a, byMAC, m})
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if k, ok := SerialKey(h.AssetTag); ok {
		for _, a := range ix.tag[k] {
			out = append(out, match{hi, a, byTag, strings.TrimSpace(h.AssetTag)})
		}
	}
	return out
}

func reconcile(assets []model.Asset, hosts []Host, devices []Device, links []Link, opt Options) Map {
	silentAfter := opt.SilentAfter
	if silentAfter <= 0 {
		silentAfter = DefaultSilentAfter
	}
	now := opt.Now
	active := newIndex(assets, true)
	retired := newIndex(assets, false)

	// Match every host against the active register.
	hostMatches := make([][]match, len(hosts))
	assetMatches := make([][]match, len(assets))
	for hi, h := range hosts {
		ms := active.find(hi, h)
		hostMatches[hi] = ms
		for _, m := range ms {
			assetMatches[m.asset] = append(assetMatches[m.asset], m)
		}
	}

	m := Map{At: now, Counts: map[State]int{}}
	m.Entries = make([]Entry, 0, len(assets)+len(hosts)+len(devices))
	add := func(e Entry) {
		slices.Sort(e.AgentIDs)
		e.AgentIDs = slices.Compact(e.AgentIDs)
		m.Entries = append(m.Entries, e)
		m.Counts[e.State]++
	}

	// Assets.
	for ai := range assets {
		a := &assets[ai]
		if a.Status == model.AssetRetired {
			continue
		}
		add(assetEntry(a, assets, hosts, hostMatches, assetMatches[ai], now, silentAfter))
	}

	// Agents that match no active asset. Revoked ones are gone from the
	// estate and are left out.
	hostByMAC := make(map[string]int, len(hosts))
	var byHostname map[string][]int
	for hi, h := range hosts {
		if h.Revoked {
			continue
		}
		for _, mac := range h.MACs {
			if mac = normMAC(mac); mac != "" {
				hostByMAC[mac] = hi
			}
		}
		if len(hostMatches[hi]) > 0 {
			continue
		}
		if byHostname == nil {
			byHostname = hostnameIndex(assets)
		}
		add(agentEntry(h, hi, assets, retired, byHostname, now, silentAfter))
	}

	// Devices on the wire that neither an active asset nor a reporting agent
	// accounts for.
	agentZone := make(map[string]string, len(hosts))
	revokedByMAC := map[string]string{}
	for _, h := range hosts {
		agentZone[h.AgentID] = h.Zone
		if h.Revoked {
			for _, mac := range h.MACs {
				revokedByMAC[normMAC(mac)] = h.AgentID
			}
		}
	}
	seenDevice := make(map[string]bool, len(devices))
	for _, d := range devices {
		mac := normMAC(d.MAC)
		if mac == "" || seenDevice[mac] {
			continue
		}
		seenDevice[mac] = true
		if len(active.mac[mac]) > 0 {
			continue
		}
		if _, ok := hostByMAC[mac]; ok {
			continue
		}
		add(deviceEntry(d, mac, assets, retired, revokedByMAC, agentZone))
	}

	slices.SortFunc(m.Entries, compareEntries)
	m.Links = slices.Clone(links)
	slices.SortFunc(m.Links, func(a, b Link) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return m
}

// assetEntry judges one active asset by the hosts matching it.
func assetEntry(a *model.Asset, assets []model.Asset, hosts []Host, hostMatches [][]match, ms []match, now time.Time, silentAfter time.Duration) Entry {
	e := Entry{
		Kind:     KindAsset,
		Asset:    a,
		Hostname: a.Hostname,
		Serial:   a.Serial,
		Zone:     a.Zone,
		Unit:     a.OwnerUnit,
		MACs:     slices.Clone(a.MACs),
	}
	var conflicts, silent []Reason
	claimants := 0
	live := 0
	for _, mt := range ms {
		h := hosts[mt.host]
		e.AgentIDs = append(e.AgentIDs, h.AgentID)
		if h.LastSeen.After(e.LastSeen) {
			e.LastSeen = h.LastSeen
		}
		e.Why = append(e.Why, why("match."+mt.by, h.AgentID, mt.what, a.Tag))
		if h.Revoked {
			silent = append(silent, why("revoked", h.AgentID))
			continue
		}
		if e.Hostname == "" {
			e.Hostname = h.Hostname // the asset names none; its agent's is the best there is
		}
		if mt.by == bySerial || mt.by == byMAC {
			claimants++
		}
		for _, other := range hostMatches[mt.host] {
			if other.asset != mt.asset {
				conflicts = append(conflicts, why("also."+other.by, h.AgentID, assets[other.asset].Tag, other.what))
			}
		}
		if c := serialChange(h); c.Code != "" {
			conflicts = append(conflicts, c)
		}
		if age := now.Sub(h.LastSeen); age > silentAfter {
			silent = append(silent, why("quiet", h.AgentID, roundAge(age)))
			continue
		}
		live++
		for _, ip := range h.IPs {
			e.IPs = appendOnce(e.IPs, ip)
		}
	}
	if claimants >= 2 {
		var ids []string
		for _, mt := range ms {
			if h := hosts[mt.host]; !h.Revoked && mt.by != byTag {
				ids = append(ids, h.AgentID)
			}
		}
		slices.Sort(ids)
		conflicts = append([]Reason{why("claimants", strconv.Itoa(claimants), a.Tag, strings.Join(slices.Compact(ids), ", "))}, conflicts...)
	}
	switch {
	case len(conflicts) > 0:
		e.State = Conflict
		e.Why = append(e.Why, conflicts...)
	case live > 0:
		e.State = Matched
	default:
		e.State = Silent
		if len(ms) == 0 {
			e.Why = append(e.Why, why("no_agent"))
		}
		e.Why = append(e.Why, silent...)
	}
	e.Reasons = reasonTexts(e.Why)
	return e
}

// agentEntry describes a non-revoked agent that matches no active asset.
func agentEntry(h Host, hi int, assets []model.Asset, retired index, byHostname map[string][]int, now time.Time, silentAfter time.Duration) Entry {
	e := Entry{
		State:    Unregistered,
		Kind:     KindAgent,
		AgentIDs: []string{h.AgentID},
		Hostname: h.Hostname,
		Serial:   h.Serial,
		Zone:     h.Zone,
		MACs:     sortedMACs(h.MACs),
		IPs:      slices.Clone(h.IPs),
		LastSeen: h.LastSeen,
	}
	if rs := retired.find(hi, h); len(rs) > 0 {
		for _, r := range rs {
			e.Why = append(e.Why, why("retired."+r.by, r.what, assets[r.asset].Tag))
		}
	} else {
		e.Why = append(e.Why, why("no_asset"))
	}
	if c := serialChange(h); c.Code != "" {
		e.State = Conflict
		e.Why = append(e.Why, c)
	}
	hn := strings.TrimSpace(h.Hostname)
	for _, ai := range byHostname[strings.ToLower(hn)] {
		e.Why = append(e.Why, why("hostname_hint", hn, assets[ai].Tag))
	}
	if age := now.Sub(h.LastSeen); age > silentAfter {
		e.Why = append(e.Why, why("agent_quiet", roundAge(age)))
	}
	e.Reasons = reasonTexts(e.Why)
	return e
}

// deviceEntry describes a device on the wire that nothing accounts for.
func deviceEntry(d Device, mac string, assets []model.Asset, retired index, revokedByMAC, agentZone map[string]string) Entry {
	e := Entry{
		State:    Unregistered,
		Kind:     KindDevice,
		Hostname: d.Name,
		MACs:     []string{mac},
		IPs:      slices.Clone(d.IPs),
		AgentIDs: slices.Clone(d.SeenBy),
		LastSeen: d.Last,
	}
	for _, id := range e.AgentIDs {
		if z := agentZone[id]; z != "" {
			e.Zone = z
			break
		}
	}
	switch {
	case len(retired.mac[mac]) > 0:
		e.Why = append(e.Why, why("device_retired", mac, assets[retired.mac[mac][0]].Tag))
	case revokedByMAC[mac] != "":
		e.Why = append(e.Why, why("device_revoked", mac, revokedByMAC[mac]))
	case d.Vendor != "":
		e.Why = append(e.Why, why("device_unknown_vendor", mac, d.Vendor))
	default:
		e.Why = append(e.Why, why("device_unknown", mac))
	}
	e.Reasons = reasonTexts(e.Why)
	return e
}

// hostnameIndex maps the lower-cased hostnames of active assets to them.
func hostnameIndex(assets []model.Asset) map[string][]int {
	ix := map[string][]int{}
	for i, a := range assets {
		if hn := strings.ToLower(strings.TrimSpace(a.Hostname)); hn != "" && a.Status != model.AssetRetired {
			ix[hn] = append(ix[hn], i)
		}
	}
	return ix
}

// serialChange reports an agent whose serial differs from one it reported
// before, or a Reason without Code when it has not changed.
func serialChange(h Host) Reason {
	cur, ok := SerialKey(h.Serial)
	if !ok {
		return Reason{}
	}
	for _, old := range h.SerialHistory {
		if k, ok := SerialKey(old); ok && k != cur {
			return why("serial_changed", h.AgentID, strings.TrimSpace(old), strings.TrimSpace(h.Serial))
		}
	}
	return Reason{}
}

// kindOrder sorts entries: assets, then agents, then devices.
func kindOrder(k string) int {
	switch k {
	case KindAsset:
		return 0
	case KindAgent:
		return 1
	case KindDevice:
		return 2
	}
	return 3
}

func compareEntries(a, b Entry) int {
	return cmp.Or(cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.Key(), b.Key()))
}

// normMAC normalises a MAC, or returns "" for a malformed one.
func normMAC(s string) string {
	if len(s) == 17 && s[2] == ':' && strings.ToLower(s) == s {
		return s // the common, already normal form
	}
	m, ok := model.NormalizeMAC(strings.TrimSpace(s))
	if !ok {
		return ""
	}
	return m
}

func sortedMACs(macs []string) []string {
	out := make([]string, 0, len(macs))
	for _, m := range macs {
		if m = normMAC(m); m != "" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func appendOnce[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// roundAge renders a silence as whole hours, or whole days past 72 hours.
func roundAge(d time.Duration) string {
	h := int(d / time.Hour)
	if h >= 72 {
		return fmt.Sprintf("%dd", h/24)
	}
	return fmt.Sprintf("%dh", h)
}

// Reconcile builds the configuration map from the asset register, the
// agents' identities, the devices seen on the wire and the zone links; see
// the package documentation for the matching rules. It does not modify its
// arguments; entries of Kind asset point into assets.
func Reconcile(assets []model.Asset, hosts []Host, devices []Device, links []Link, opt Options) Map {
	return reconcile(assets, hosts, devices, links, opt)
}
