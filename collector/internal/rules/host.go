package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// HostRules are the rules Hosts evaluates: standing conditions of the
// configuration map and the hosts' accounts, judged over the whole map at
// each evaluation rather than per record.
var HostRules = []string{UnregisteredHost, UnknownDevice, AgentSilent, DuplicateIdentity, SupplierAccess}

// SupplierAccount is one supplier's person with the accounts they use on the
// municipality's machines and their confidentiality declaration (S2.2,
// S2.3), as the organisation register holds them.
type SupplierAccount struct {
	Person   string
	Supplier string
	// Accounts are the person's account names, as hosts report users and
	// sessions ("lev-ola", `KOMMUNE\lev-ola`); compared ignoring case.
	Accounts []string
	// DeclarationSigned is when the declaration was signed; zero when it
	// was not.
	DeclarationSigned time.Time
	// DeclarationExpires is when the declaration stops holding; zero when
	// it does not expire.
	DeclarationExpires time.Time
}

// Declared reports whether the person holds a signed declaration at now.
func (s SupplierAccount) Declared(now time.Time) bool {
	return !s.DeclarationSigned.IsZero() && (s.DeclarationExpires.IsZero() || now.Before(s.DeclarationExpires))
}

// HostAccounts are the accounts of one host's current inventory.
type HostAccounts struct {
	Users    []wire.User
	Sessions []wire.Session
}

// HostInput is what the host rules judge.
type HostInput struct {
	// Map is the configuration map, reconciled at Now.
	Map configmap.Map
	// Hosts are the agents the map was reconciled from, by agent id: for
	// agent-silent (which ignores revoked agents) and for hostnames.
	Hosts map[string]configmap.Host
	// Devices are the devices seen on the wire the map was reconciled from,
	// by MAC: for the facts of unknown-device.
	Devices map[string]configmap.Device
	// Suppliers are the supplier personnel of the organisation register.
	Suppliers []SupplierAccount
	// Accounts are the hosts' users and sessions, by agent id; a host
	// without an inventory is left out.
	Accounts map[string]HostAccounts
	Now      time.Time
}

// HostFinding is a finding of a host rule with the organisational unit it
// belongs to: the owner unit of the asset concerned, "" when none is known.
type HostFinding struct {
	model.Finding
	Unit string
}

// Facts of the host rules (Finding.Facts; the UI translates them as
// fact.<key>). Empty values are left out.
//
//	hostname, serial, asset_tag   the host, or the asset's
//	owner_unit, zone              the asset's unit; the host's or asset's zone
//	macs, ips                     comma separated
//	reasons                       the configuration map's reasons, "; " separated
//	agents                        the agents involved, comma separated
//	last_seen                     the newest report (RFC 3339), "never"
//	name, vendor, seen_by         unknown-device: the device's name and vendor, the agents that saw it
//	person, supplier, account     supplier-access: who, for whom, which account
//	declaration                   supplier-access: "none", or "expired 2026-01-31"
//	account_state                 supplier-access: enabled, disabled, absent (a session only)
//	sessions                      supplier-access: the account's sessions ("rdp from 10.1.2.3")
const (
	FactReasons     = "reasons"
	FactDeclaration = "declaration"
)

// Hosts judges the configuration map and the hosts' accounts with the host
// rules (HostRules) that cfg enables, and returns their findings, each at
// in.Now:
//
//   - unregistered-host, for every agent entry in state unregistered (subject
//     "host:<agent id>");
//   - unknown-device, for every device entry in state unregistered (subject
//     "device:<mac>");
//   - agent-silent, for every asset entry in state silent that has an agent
//     that is not revoked (subject "asset:<tag>"). An asset no agent ever
//     reported is a coverage gap the map shows, not a deviation: many
//     assets (printers, switches, phones) run no agent;
//   - duplicate-identity, for every entry in conflict (subject
//     "identity:<serial>", else "identity:<asset tag>", else
//     "identity:agent:<agent id>");
//   - supplier-access, for every account of a supplier's person that is
//     present and enabled on a host, or has a session there, while the
//     person has no signed declaration or it expired (subject
//     "supplier:<agent id>:<account>", the account as the register spells
//     it, lower-cased).
//
// Findings are ordered by rule (HostRules' order), then as the map orders
// its entries.
func Hosts(in HostInput, cfg Config) []HostFinding {
	var out []HostFinding
	if cfg.Enabled(UnregisteredHost) {
		out = append(out, unregisteredHosts(in, cfg)...)
	}
	if cfg.Enabled(UnknownDevice) {
		out = append(out, unknownDevices(in, cfg)...)
	}
	if cfg.Enabled(AgentSilent) {
		out = append(out, silentAgents(in, cfg)...)
	}
	if cfg.Enabled(DuplicateIdentity) {
		out = append(out, duplicateIdentities(in, cfg)...)
	}
	if cfg.Enabled(SupplierAccess) {
		out = append(out, supplierAccess(in, cfg)...)
	}
	return out
}

// hostFinding starts a finding of rule about subject at in.Now.
func (in HostInput) hostFinding(cfg Config, rule, subject, agentID string, facts map[string]string) model.Finding {
	f := cfg.finding(rule)
	f.Subject, f.AgentID, f.At = subject, agentID, in.Now
	for k, v := range facts {
		if v == "" {
			delete(facts, k)
		} else {
			facts[k] = clip(v)
		}
	}
	f.Facts = facts
	return f
}

// entryFacts are the facts every host rule shows of a map entry.
func entryFacts(e configmap.Entry) map[string]string {
	last := "never"
	if !e.LastSeen.IsZero() {
		last = e.LastSeen.UTC().Format(time.RFC3339)
	}
	m := map[string]string{
		"hostname":  e.Hostname,
		"serial":    e.Serial,
		"macs":      strings.Join(e.MACs, ", "),
		"ips":       strings.Join(e.IPs, ", "),
		"zone":      e.Zone,
		FactReasons: strings.Join(e.Reasons, "; "),
		"last_seen": last,
	}
	if e.Asset != nil {
		m["asset_tag"] = e.Asset.Tag
		m["owner_unit"] = e.Asset.OwnerUnit
	}
	return m
}

// name is how titles name an entry: its hostname, else its key.
func name(e configmap.Entry) string {
	if e.Hostname != "" {
		return clip(e.Hostname)
	}
	return e.Key()
}

func unregisteredHosts(in HostInput, cfg Config) []HostFinding {
	var out []HostFinding
	for _, e := range in.Map.Entries {
		if e.Kind != configmap.KindAgent || e.State != configmap.Unregistered || len(e.AgentIDs) == 0 {
			continue
		}
		id := e.AgentIDs[0]
		f := in.hostFinding(cfg, UnregisteredHost, "host:"+id, id, entryFacts(e))
		f.Title = fmt.Sprintf("Unregistered host %s (agent %s) matches no asset in the register", name(e), id)
		out = append(out, HostFinding{Finding: f})
	}
	return out
}

func unknownDevices(in HostInput, cfg Config) []HostFinding {
	var out []HostFinding
	for _, e := range in.Map.Entries {
		if e.Kind != configmap.KindDevice || e.State != configmap.Unregistered || len(e.MACs) == 0 {
			continue
		}
		mac := e.MACs[0]
		facts := entryFacts(e)
		delete(facts, "hostname")
		facts["name"] = e.Hostname
		facts["seen_by"] = strings.Join(e.AgentIDs, ", ")
		facts["vendor"] = in.Devices[mac].Vendor
		agent := ""
		if len(e.AgentIDs) > 0 {
			agent = e.AgentIDs[0]
		}
		f := in.hostFinding(cfg, UnknownDevice, "device:"+mac, agent, facts)
		what := mac
		if v := in.Devices[mac].Vendor; v != "" {
			what += " (" + clip(v) + ")"
		}
		if e.Hostname != "" {
			what = clip(e.Hostname) + " " + what
		}
		f.Title = fmt.Sprintf("Unknown device %s on the network matches no asset and runs no agent", what)
		out = append(out, HostFinding{Finding: f})
	}
	return out
}

func silentAgents(in HostInput, cfg Config) []HostFinding {
	var out []HostFinding
	for _, e := range in.Map.Entries {
		if e.Kind != configmap.KindAsset || e.State != configmap.Silent || e.Asset == nil {
			continue
		}
		var live []string
		for _, id := range e.AgentIDs {
			if h, ok := in.Hosts[id]; !ok || !h.Revoked {
				live = append(live, id)
			}
		}
		if len(live) == 0 {
			continue // never covered, or only by revoked agents: a coverage gap
		}
		facts := entryFacts(e)
		facts["agents"] = strings.Join(live, ", ")
		f := in.hostFinding(cfg, AgentSilent, "asset:"+e.Asset.Tag, live[0], facts)
		since := "never"
		if !e.LastSeen.IsZero() {
			since = "since " + e.LastSeen.UTC().Format(time.RFC3339)
		}
		f.Title = fmt.Sprintf("The agent of asset %s (%s) has not reported %s", clip(e.Asset.Tag), name(e), since)
		out = append(out, HostFinding{Finding: f, Unit: e.Asset.OwnerUnit})
	}
	return out
}

// IdentitySubject is the subject of a duplicate-identity finding about a
// map entry: the serial the sides share, else the asset tag, else the agent.
func IdentitySubject(e configmap.Entry) string {
	if k, ok := configmap.SerialKey(e.Serial); ok {
		return "identity:" + k
	}
	if e.Asset != nil {
		if k, ok := configmap.SerialKey(e.Asset.Tag); ok {
			return "identity:" + k
		}
		return "identity:" + e.Asset.Tag
	}
	if len(e.AgentIDs) > 0 {
		return "identity:agent:" + e.AgentIDs[0]
	}
	return "identity:" + e.Key()
}

func duplicateIdentities(in HostInput, cfg Config) []HostFinding {
	var out []HostFinding
	for _, e := range in.Map.Entries {
		if e.State != configmap.Conflict || e.Kind == configmap.KindDevice {
			continue
		}
		facts := entryFacts(e)
		facts["agents"] = strings.Join(e.AgentIDs, ", ")
		agent := ""
		if len(e.AgentIDs) > 0 {
			agent = e.AgentIDs[0]
		}
		f := in.hostFinding(cfg, DuplicateIdentity, IdentitySubject(e), agent, facts)
		unit := ""
		if e.Asset != nil {
			unit = e.Asset.OwnerUnit
			f.Title = fmt.Sprintf("Identity conflict on asset %s: %s", clip(e.Asset.Tag), strings.Join(e.AgentIDs, ", "))
		} else {
			f.Title = fmt.Sprintf("Identity conflict on host %s (agent %s): its hardware changed", name(e), agent)
		}
		if len(e.Reasons) > 0 {
			f.Title += " — " + clip(e.Reasons[len(e.Reasons)-1])
		}
		out = append(out, HostFinding{Finding: f, Unit: unit})
	}
	return out
}

func supplierAccess(in HostInput, cfg Config) []HostFinding {
	// The undeclared people, by account name.
	type holder struct {
		p       *SupplierAccount
		account string
	}
	undeclared := map[string]holder{}
	for i := range in.Suppliers {
		p := &in.Suppliers[i]
		if p.Declared(in.Now) {
			continue
		}
		for _, a := range p.Accounts {
			if k := accountKey(a); k != "" {
				if _, dup := undeclared[k]; !dup {
					undeclared[k] = holder{p, a}
				}
			}
		}
	}
	if len(undeclared) == 0 {
		return nil
	}
	// The unit and hostname of each agent, from the map.
	units := map[string]string{}
	hostnames := map[string]string{}
	for _, e := range in.Map.Entries {
		for _, id := range e.AgentIDs {
			if e.Kind == configmap.KindAsset && e.Asset != nil {
				units[id] = e.Asset.OwnerUnit
			}
		}
	}
	for id, h := range in.Hosts {
		hostnames[id] = h.Hostname
	}

	var out []HostFinding
	for _, id := range slices.Sorted(maps.Keys(in.Accounts)) {
		if h, ok := in.Hosts[id]; ok && h.Revoked {
			continue
		}
		acc := in.Accounts[id]
		type hit struct {
			state    string
			sessions []string
		}
		hits := map[string]*hit{}
		get := func(k string) *hit {
			if hits[k] == nil {
				hits[k] = &hit{state: "absent"}
			}
			return hits[k]
		}
		for _, u := range acc.Users {
			k := accountKey(u.Name)
			if _, ok := undeclared[k]; !ok {
				continue
			}
			if u.Disabled {
				get(k).state = "disabled"
			} else {
				get(k).state = "enabled"
			}
		}
		for _, s := range acc.Sessions {
			k := accountKey(s.User)
			if _, ok := undeclared[k]; !ok {
				continue
			}
			d := s.Kind
			if d == "" {
				d = "session"
			}
			if s.Remote != "" {
				d += " from " + s.Remote
			}
			get(k).sessions = append(get(k).sessions, d)
		}
		for _, k := range slices.Sorted(maps.Keys(hits)) {
			h := hits[k]
			if h.state != "enabled" && len(h.sessions) == 0 {
				continue // a disabled account nobody is logged on with
			}
			p := undeclared[k]
			decl := "none"
			if !p.p.DeclarationSigned.IsZero() {
				decl = "expired " + p.p.DeclarationExpires.UTC().Format(time.DateOnly)
			}
			facts := map[string]string{
				"hostname": hostnames[id], "person": p.p.Person, "supplier": p.p.Supplier, "account": p.account,
				FactDeclaration: decl, "account_state": h.state, "sessions": strings.Join(h.sessions, ", "),
			}
			f := in.hostFinding(cfg, SupplierAccess, "supplier:"+id+":"+accountKey(p.account), id, facts)
			host := hostnames[id]
			if host == "" {
				host = id
			}
			why := "without a signed confidentiality declaration"
			if decl != "none" {
				why = "whose confidentiality declaration " + decl
			}
			f.Title = fmt.Sprintf("Supplier account %s (%s, %s) is active on %s %s", clip(p.account), clip(p.p.Person), clip(p.p.Supplier), clip(host), why)
			out = append(out, HostFinding{Finding: f, Unit: units[id]})
		}
	}
	return out
}

// accountKey is the form account names are compared in.
func accountKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
