package rules

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Facts of the flow rules, the keys of Finding.Facts (the UI translates them
// as fact.<key>). Empty values are left out.
//
//	src, dst               the flow's ends (addresses); src opened it
//	src_zone, dst_zone     their zones by the collector's map, "helse (sensitive)"
//	zones                  "kontor > helse"
//	proto, port            the protocol and the service's port (ICMP: type<<8 | code)
//	process, user          the local process that owned the socket, and its user
//	packets, bytes         the hour's counts, both directions
//	hour                   the hour, RFC 3339 UTC
//	agent_verdict          what the agent judged by the map it held: "denied", "allowed by fw-3", "no-map"
//	agent_zones            the zones the agent named, when they differ from the collector's
//	own_zone               shared-solution: the host's own zone, or "unknown"
//	reached_zones          shared-solution: the other non-external zones its flows reached, with levels
//	sensitive_zones        shared-solution: which of them are sensitive
//	flows                  shared-solution: how many hourly flows of the host were judged
//	reason                 shared-solution: which condition held, in English
const (
	FactReachedZones   = "reached_zones"
	FactSensitiveZones = "sensitive_zones"
)

// maxEvidenceRefs bounds the evidence references a shared-solution finding
// carries.
const maxEvidenceRefs = 20

// FlowSubject is the subject of a cross-zone-flow finding: the agent, the
// zone pair, the protocol and the service port, so that the same flow
// between other hosts of the same zones on the same agent, and in later
// hours, is an occurrence of one deviation:
// "flow:<agent id>:kontor>helse:tcp/443".
func FlowSubject(agentID, srcZone, dstZone, proto string, dport uint16) string {
	return "flow:" + agentID + ":" + srcZone + ">" + dstZone + ":" + proto + "/" + strconv.Itoa(int(dport))
}

// SharedSubject is the subject of a shared-solution finding: "shared:<agent id>".
func SharedSubject(agentID string) string { return "shared:" + agentID }

// endZone returns the zone of one end of a flow by the collector's map: by
// its address, or, for an address that does not parse, by the zone name the
// agent gave (a zone the map does not know has Level "").
func endZone(m *zone.Map, addr, agentZone string) zone.Zone {
	if a, ok := zone.ParseAddr(addr); ok {
		return m.ZoneOf(a)
	}
	if i, ok := m.Index(agentZone); ok {
		return m.ZoneByIndex(i)
	}
	return zone.Zone{Name: agentZone}
}

// Flow judges one hourly flow with the rule cross-zone-flow, which fires when
// the flow's ends are in two zones of the collector's current map and no
// rule of its firewall map allows the flow (from the zone of the end that
// opened it, to the other zone's protocol and port). The zones are found
// again from the addresses by the map, and the agent's own verdict is not
// trusted: it judged by the policy it held. Without a map (m nil) nothing
// fires. The finding involves personal data, which starts the breach clock,
// when either zone is sensitive.
func Flow(f model.FlowHour, m *zone.Map, cfg Config) (model.Finding, bool) {
	if m == nil || !cfg.Enabled(CrossZoneFlow) {
		return model.Finding{}, false
	}
	src, dst := endZone(m, f.Src, f.SrcZone), endZone(m, f.Dst, f.DstZone)
	if src.Name == dst.Name {
		return model.Finding{}, false
	}
	if _, ok := m.Allowed(zone.Flow{From: src.Name, To: dst.Name, Proto: f.Proto, Port: f.DPort}); ok {
		return model.Finding{}, false
	}
	fd := cfg.finding(CrossZoneFlow)
	fd.Subject = FlowSubject(f.AgentID, src.Name, dst.Name, f.Proto, f.DPort)
	fd.AgentID = f.AgentID
	fd.At = cmp.Or(f.Last, f.Hour)
	fd.PersonalData = src.Sensitive() || dst.Sensitive()
	fd.Title = fmt.Sprintf("Flow from zone %s to zone %s (%s/%d) that the firewall map does not allow: %s > %s on %s",
		clip(src.Name), clip(dst.Name), clip(f.Proto), f.DPort, clip(f.Src), clip(f.Dst), flowHost(f.AgentID, f.Hostname))
	fd.Facts = flowFacts(f, src, dst)
	fd.Evidence = []model.EvidenceRef{{AgentID: f.AgentID, Seq: f.Seq, Kind: string(wire.KindFlows)}}
	return fd, true
}

// flowFacts describes an hourly flow (see the Fact… keys).
func flowFacts(f model.FlowHour, src, dst zone.Zone) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = clip(v)
		}
	}
	set("src", f.Src)
	set("dst", f.Dst)
	set("src_zone", zoneLabel(src))
	set("dst_zone", zoneLabel(dst))
	set("zones", src.Name+" > "+dst.Name)
	set("proto", f.Proto)
	m["port"] = strconv.Itoa(int(f.DPort))
	set("process", f.Process)
	set("user", f.User)
	m["packets"] = strconv.FormatUint(f.Packets, 10)
	m["bytes"] = strconv.FormatUint(f.Bytes, 10)
	if !f.Hour.IsZero() {
		m["hour"] = f.Hour.UTC().Format(time.RFC3339)
	}
	switch {
	case f.Verdict == wire.VerdictAllowed && f.Rule != "":
		set("agent_verdict", "allowed by "+f.Rule)
	default:
		set("agent_verdict", f.Verdict)
	}
	if f.SrcZone != src.Name || f.DstZone != dst.Name {
		set("agent_zones", f.SrcZone+" > "+f.DstZone)
	}
	return m
}

// zoneLabel is a zone's name and level, or its bare name for a zone the map
// does not know.
func zoneLabel(z zone.Zone) string {
	if z.Level == "" {
		return z.Name
	}
	return z.String()
}

// flowHost names the host in titles.
func flowHost(agentID, hostname string) string {
	if hostname != "" {
		return clip(hostname)
	}
	return agentID
}

// SharedInput is one host's hourly flows of one judged set, with what the
// rule shared-solution judges them against.
type SharedInput struct {
	AgentID  string
	Hostname string // "" when not known
	// Own is the host's own zone, by its interfaces' addresses and the
	// collector's map (the most sensitive of them); Name "" when not known.
	Own zone.Zone
	// Flows are the host's hourly flows in the judged set.
	Flows []model.FlowHour
	// Registered reports whether the host is registered as a shared-solution
	// machine (S5.2), by agent id or hostname.
	Registered bool
}

// Shared judges one host with the rule shared-solution (S5.2): a host that
// reads several zones at once must be registered as a shared solution.
//
// Precisely: the reached zones are the zones, by the collector's map, of
// both ends of every one of the host's flows in the judged set, leaving out
// zones of level external and the host's own zone. The rule fires for a host
// that is not registered when
//   - the reached zones are two or more and at least one is sensitive (when
//     the host's own zone is not known, it may be among them, so three or
//     more are needed); or
//   - the host's own zone is sensitive and a reached zone is sensitive with
//     another purpose: two sensitive zones with the same non-empty purpose
//     serve one purpose, so a host of one reaching the other does not fire
//     by this condition.
//
// An internal host that reaches one sensitive zone does not fire: whether it
// may is the firewall map's question (cross-zone-flow). Without a map (m
// nil) nothing fires. The finding involves personal data.
func Shared(in SharedInput, m *zone.Map, cfg Config) (model.Finding, bool) {
	if m == nil || in.Registered || !cfg.Enabled(SharedSolution) || len(in.Flows) == 0 {
		return model.Finding{}, false
	}
	reached := map[string]zone.Zone{}
	var last time.Time
	for _, f := range in.Flows {
		for _, z := range []zone.Zone{endZone(m, f.Src, f.SrcZone), endZone(m, f.Dst, f.DstZone)} {
			if z.Level == zone.External || z.Name == "" || (in.Own.Name != "" && z.Name == in.Own.Name) {
				continue
			}
			reached[z.Name] = z
		}
		if t := cmp.Or(f.Last, f.Hour); t.After(last) {
			last = t
		}
	}
	names := slices.Sorted(maps.Keys(reached))
	var sensitive []string
	for _, n := range names {
		if reached[n].Sensitive() {
			sensitive = append(sensitive, n)
		}
	}
	need := 2
	if in.Own.Name == "" {
		need = 3
	}
	var reason string
	switch {
	case len(sensitive) > 0 && len(names) >= need:
		reason = "reaches " + strconv.Itoa(len(names)) + " zones besides its own, " + strconv.Itoa(len(sensitive)) + " of them sensitive"
	case in.Own.Sensitive() && otherPurpose(in.Own, sensitive, reached):
		reason = "a host in sensitive zone " + clip(in.Own.Name) + " reaches a sensitive zone of another purpose"
	default:
		return model.Finding{}, false
	}

	fd := cfg.finding(SharedSolution)
	fd.Subject = SharedSubject(in.AgentID)
	fd.AgentID = in.AgentID
	fd.At = last
	fd.PersonalData = true
	fd.Title = fmt.Sprintf("Host %s reaches zones %s without being registered as a shared solution",
		flowHost(in.AgentID, in.Hostname), clip(strings.Join(names, ", ")))
	labels := make([]string, len(names))
	for i, n := range names {
		labels[i] = zoneLabel(reached[n])
	}
	own := "unknown"
	if in.Own.Name != "" {
		own = zoneLabel(in.Own)
	}
	fd.Facts = map[string]string{
		"own_zone":         clip(own),
		FactReachedZones:   clip(strings.Join(labels, ", ")),
		FactSensitiveZones: clip(strings.Join(sensitive, ", ")),
		"flows":            strconv.Itoa(len(in.Flows)),
		"reason":           reason,
	}
	seen := map[uint64]bool{}
	for _, f := range in.Flows {
		if len(fd.Evidence) == maxEvidenceRefs {
			break
		}
		if !seen[f.Seq] {
			seen[f.Seq] = true
			fd.Evidence = append(fd.Evidence, model.EvidenceRef{AgentID: in.AgentID, Seq: f.Seq, Kind: string(wire.KindFlows)})
		}
	}
	return fd, true
}

// otherPurpose reports whether one of the sensitive zones (names in
// reached) serves another purpose than own: a different purpose, or no
// purpose on either side.
func otherPurpose(own zone.Zone, sensitive []string, reached map[string]zone.Zone) bool {
	for _, n := range sensitive {
		p := reached[n].Purpose
		if p == "" || own.Purpose == "" || p != own.Purpose {
			return true
		}
	}
	return false
}
