package rules

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

var hostNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func asset(tag, serial, unit string) *model.Asset {
	return &model.Asset{Tag: tag, Type: model.AssetPC, Serial: serial, Hostname: "pc-" + tag, OwnerUnit: unit, Status: model.AssetActive}
}

// subjects renders findings of one rule as "subject agent unit" lines.
func subjects(fs []HostFinding, rule string) []string {
	var out []string
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f.Subject+" "+f.AgentID+" "+f.Unit)
		}
	}
	return out
}

func checkHostFindings(t *testing.T, rule string, in HostInput, cfg Config, want []string) []HostFinding {
	t.Helper()
	if in.Now.IsZero() {
		in.Now = hostNow
	}
	fs := Hosts(in, cfg)
	if got := subjects(fs, rule); !slices.Equal(got, want) {
		t.Errorf("Hosts(…) %s findings = %q, want %q", rule, got, want)
	}
	for _, f := range fs {
		r, _ := Lookup(f.Rule)
		if !slices.Equal(f.Refs, r.Refs) || f.Severity != cfg.Severity(f.Rule) || !f.At.Equal(in.Now) || f.Title == "" {
			t.Errorf("%s %s: refs %v, severity %q, at %v, title %q", f.Rule, f.Subject, f.Refs, f.Severity, f.At, f.Title)
		}
		for k, v := range f.Facts {
			if v == "" {
				t.Errorf("%s %s: empty fact %q", f.Rule, f.Subject, k)
			}
		}
	}
	return fs
}

func TestUnregisteredHost(t *testing.T) {
	agent := func(id string, st configmap.State) configmap.Entry {
		return configmap.Entry{State: st, Kind: configmap.KindAgent, AgentIDs: []string{id}, Hostname: "pc-" + id,
			Serial: "SER-" + id, MACs: []string{"02:00:00:00:00:01"}, LastSeen: hostNow.Add(-time.Minute),
			Reasons: []string{"matches no asset in the register"}}
	}
	for _, tc := range []struct {
		name    string
		entries []configmap.Entry
		cfg     Config
		want    []string
	}{
		{"unregistered agent fires", []configmap.Entry{agent("a1", configmap.Unregistered)}, nil, []string{"host:a1 a1 "}},
		{"two agents, two findings", []configmap.Entry{agent("a1", configmap.Unregistered), agent("a2", configmap.Unregistered)}, nil,
			[]string{"host:a1 a1 ", "host:a2 a2 "}},
		{"matched asset does not fire", []configmap.Entry{{State: configmap.Matched, Kind: configmap.KindAsset, Asset: asset("T1", "S1", "skole"), AgentIDs: []string{"a1"}}}, nil, nil},
		{"agent in conflict is duplicate-identity, not unregistered", []configmap.Entry{agent("a1", configmap.Conflict)}, nil, nil},
		{"unregistered device is not a host", []configmap.Entry{{State: configmap.Unregistered, Kind: configmap.KindDevice, MACs: []string{"02:00:00:00:00:09"}}}, nil, nil},
		{"disabled", []configmap.Entry{agent("a1", configmap.Unregistered)}, Config{UnregisteredHost: {Disabled: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHostFindings(t, UnregisteredHost, HostInput{Map: configmap.Map{Entries: tc.entries}}, tc.cfg, tc.want)
		})
	}
	fs := Hosts(HostInput{Map: configmap.Map{Entries: []configmap.Entry{agent("a1", configmap.Unregistered)}}, Now: hostNow},
		Config{UnregisteredHost: {Severity: model.SeverityCritical}})
	want := map[string]string{"hostname": "pc-a1", "serial": "SER-a1", "macs": "02:00:00:00:00:01",
		"reasons": "matches no asset in the register", "last_seen": "2026-03-02T11:59:00Z"}
	if len(fs) != 1 || !reflect.DeepEqual(fs[0].Facts, want) || fs[0].Severity != model.SeverityCritical {
		t.Errorf("unregistered-host finding = %+v, want facts %v at severity critical", fs, want)
	}
}

func TestUnknownDevice(t *testing.T) {
	dev := configmap.Entry{State: configmap.Unregistered, Kind: configmap.KindDevice, Hostname: "printer-3",
		MACs: []string{"3c:2a:f4:00:00:01"}, IPs: []string{"10.1.2.30"}, AgentIDs: []string{"a1", "a2"}}
	devices := map[string]configmap.Device{"3c:2a:f4:00:00:01": {MAC: "3c:2a:f4:00:00:01", Vendor: "Brother"}}
	for _, tc := range []struct {
		name    string
		entries []configmap.Entry
		cfg     Config
		want    []string
	}{
		{"unknown device fires", []configmap.Entry{dev}, nil, []string{"device:3c:2a:f4:00:00:01 a1 "}},
		{"agent is not a device", []configmap.Entry{{State: configmap.Unregistered, Kind: configmap.KindAgent, AgentIDs: []string{"a1"}}}, nil, nil},
		{"matched asset does not fire", []configmap.Entry{{State: configmap.Matched, Kind: configmap.KindAsset, Asset: asset("T1", "S1", ""), MACs: dev.MACs}}, nil, nil},
		{"disabled", []configmap.Entry{dev}, Config{UnknownDevice: {Disabled: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHostFindings(t, UnknownDevice, HostInput{Map: configmap.Map{Entries: tc.entries}, Devices: devices}, tc.cfg, tc.want)
		})
	}
	fs := Hosts(HostInput{Map: configmap.Map{Entries: []configmap.Entry{dev}}, Devices: devices, Now: hostNow}, nil)
	if len(fs) != 1 || fs[0].Facts["vendor"] != "Brother" || fs[0].Facts["seen_by"] != "a1, a2" ||
		fs[0].Facts["name"] != "printer-3" || fs[0].Facts["ips"] != "10.1.2.30" || fs[0].Facts["last_seen"] != "never" {
		t.Errorf("unknown-device facts = %v", fs)
	}
}

func TestAgentSilent(t *testing.T) {
	silent := func(tag string, agents ...string) configmap.Entry {
		return configmap.Entry{State: configmap.Silent, Kind: configmap.KindAsset, Asset: asset(tag, "S"+tag, "helse"),
			AgentIDs: agents, Hostname: "pc-" + tag, LastSeen: hostNow.Add(-26 * time.Hour)}
	}
	hosts := map[string]configmap.Host{"a1": {AgentID: "a1"}, "gone": {AgentID: "gone", Revoked: true}}
	for _, tc := range []struct {
		name    string
		entries []configmap.Entry
		cfg     Config
		want    []string
	}{
		{"silent asset with an agent fires", []configmap.Entry{silent("T1", "a1")}, nil, []string{"asset:T1 a1 helse"}},
		{"agent not among the hosts counts", []configmap.Entry{silent("T1", "a9")}, nil, []string{"asset:T1 a9 helse"}},
		{"revoked agent is skipped, a live one fires", []configmap.Entry{silent("T1", "gone", "a1")}, nil, []string{"asset:T1 a1 helse"}},
		{"asset no agent ever reported is a coverage gap", []configmap.Entry{silent("T1")}, nil, nil},
		{"asset with only a revoked agent is a coverage gap", []configmap.Entry{silent("T1", "gone")}, nil, nil},
		{"matched asset does not fire", []configmap.Entry{{State: configmap.Matched, Kind: configmap.KindAsset, Asset: asset("T1", "S1", "helse"), AgentIDs: []string{"a1"}}}, nil, nil},
		{"disabled", []configmap.Entry{silent("T1", "a1")}, Config{AgentSilent: {Disabled: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHostFindings(t, AgentSilent, HostInput{Map: configmap.Map{Entries: tc.entries}, Hosts: hosts}, tc.cfg, tc.want)
		})
	}
}

func TestDuplicateIdentity(t *testing.T) {
	clone := configmap.Entry{State: configmap.Conflict, Kind: configmap.KindAsset, Asset: asset("T1", "CZC123", "skole"),
		Serial: "CZC123", AgentIDs: []string{"a1", "a2"}, Reasons: []string{"2 agents claim asset T1: a1, a2 (a cloned image or a reinstall?)"}}
	noSerial := clone
	noSerial.Asset, noSerial.Serial = asset("T2", "", "skole"), ""
	changed := configmap.Entry{State: configmap.Conflict, Kind: configmap.KindAgent, AgentIDs: []string{"a3"}, Serial: "NEW1",
		Reasons: []string{"agent a3 reported serial OLD1 before and NEW1 now (its hardware changed)"}}
	junk := changed
	junk.Serial = "To be filled by O.E.M."
	for _, tc := range []struct {
		name    string
		entries []configmap.Entry
		cfg     Config
		want    []string
	}{
		{"cloned image fires on the serial", []configmap.Entry{clone}, nil, []string{"identity:czc123 a1 skole"}},
		{"without a serial, the asset tag", []configmap.Entry{noSerial}, nil, []string{"identity:t2 a1 skole"}},
		{"hardware changed under an agent", []configmap.Entry{changed}, nil, []string{"identity:new1 a3 "}},
		{"junk serial falls back to the agent", []configmap.Entry{junk}, nil, []string{"identity:agent:a3 a3 "}},
		{"matched and silent do not fire", []configmap.Entry{
			{State: configmap.Matched, Kind: configmap.KindAsset, Asset: asset("T1", "S1", ""), AgentIDs: []string{"a1"}},
			{State: configmap.Silent, Kind: configmap.KindAsset, Asset: asset("T2", "S2", ""), AgentIDs: []string{"a2"}},
		}, nil, nil},
		{"disabled", []configmap.Entry{clone}, Config{DuplicateIdentity: {Disabled: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHostFindings(t, DuplicateIdentity, HostInput{Map: configmap.Map{Entries: tc.entries}}, tc.cfg, tc.want)
		})
	}
}

func TestSupplierAccess(t *testing.T) {
	m := configmap.Map{Entries: []configmap.Entry{
		{State: configmap.Matched, Kind: configmap.KindAsset, Asset: asset("T1", "S1", "helse"), AgentIDs: []string{"a1"}},
	}}
	hosts := map[string]configmap.Host{"a1": {AgentID: "a1", Hostname: "pc-t1"}, "a2": {AgentID: "a2", Hostname: "srv"},
		"old": {AgentID: "old", Revoked: true}}
	ola := SupplierAccount{Person: "Ola Lev", Supplier: "Leverandør AS", Accounts: []string{"lev-ola", `KOMMUNE\lev-ola`}}
	signed := ola
	signed.DeclarationSigned = hostNow.AddDate(-1, 0, 0)
	expired := signed
	expired.DeclarationExpires = hostNow.Add(-time.Hour)
	valid := signed
	valid.DeclarationExpires = hostNow.Add(time.Hour)
	atExpiry := signed
	atExpiry.DeclarationExpires = hostNow

	user := func(name string, disabled bool) HostAccounts {
		return HostAccounts{Users: []wire.User{{Name: "root", ID: "0"}, {Name: name, ID: "1001", Disabled: disabled}}}
	}
	session := HostAccounts{Sessions: []wire.Session{{User: `kommune\LEV-OLA`, Kind: "rdp", Remote: "10.1.2.3"}}}
	for _, tc := range []struct {
		name      string
		suppliers []SupplierAccount
		accounts  map[string]HostAccounts
		cfg       Config
		want      []string
	}{
		{"enabled account without declaration fires", []SupplierAccount{ola}, map[string]HostAccounts{"a1": user("lev-ola", false)}, nil,
			[]string{"supplier:a1:lev-ola a1 helse"}},
		{"name compared ignoring case", []SupplierAccount{ola}, map[string]HostAccounts{"a2": user("Lev-Ola", false)}, nil,
			[]string{"supplier:a2:lev-ola a2 "}},
		{"expired declaration fires", []SupplierAccount{expired}, map[string]HostAccounts{"a1": user("lev-ola", false)}, nil,
			[]string{"supplier:a1:lev-ola a1 helse"}},
		{"declaration expiring now fires", []SupplierAccount{atExpiry}, map[string]HostAccounts{"a1": user("lev-ola", false)}, nil,
			[]string{"supplier:a1:lev-ola a1 helse"}},
		{"session of a domain account fires", []SupplierAccount{ola}, map[string]HostAccounts{"a1": session}, nil,
			[]string{`supplier:a1:kommune\lev-ola a1 helse`}},
		{"session on a disabled account fires", []SupplierAccount{ola},
			map[string]HostAccounts{"a1": {Users: []wire.User{{Name: "lev-ola", Disabled: true}}, Sessions: []wire.Session{{User: "lev-ola"}}}}, nil,
			[]string{"supplier:a1:lev-ola a1 helse"}},
		{"signed declaration without expiry does not fire", []SupplierAccount{signed}, map[string]HostAccounts{"a1": user("lev-ola", false)}, nil, nil},
		{"valid declaration does not fire", []SupplierAccount{valid}, map[string]HostAccounts{"a1": session}, nil, nil},
		{"disabled account without session does not fire", []SupplierAccount{ola}, map[string]HostAccounts{"a1": user("lev-ola", true)}, nil, nil},
		{"other accounts do not fire", []SupplierAccount{ola}, map[string]HostAccounts{"a1": user("kari", false)}, nil, nil},
		{"revoked host does not fire", []SupplierAccount{ola}, map[string]HostAccounts{"old": user("lev-ola", false)}, nil, nil},
		{"no suppliers", nil, map[string]HostAccounts{"a1": user("lev-ola", false)}, nil, nil},
		{"disabled", []SupplierAccount{ola}, map[string]HostAccounts{"a1": user("lev-ola", false)}, Config{SupplierAccess: {Disabled: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHostFindings(t, SupplierAccess, HostInput{Map: m, Hosts: hosts, Suppliers: tc.suppliers, Accounts: tc.accounts}, tc.cfg, tc.want)
		})
	}
	fs := Hosts(HostInput{Map: m, Hosts: hosts, Suppliers: []SupplierAccount{expired}, Accounts: map[string]HostAccounts{"a1": session}, Now: hostNow}, nil)
	want := map[string]string{"hostname": "pc-t1", "person": "Ola Lev", "supplier": "Leverandør AS", "account": `KOMMUNE\lev-ola`,
		"declaration": "expired 2026-03-02", "account_state": "absent", "sessions": "rdp from 10.1.2.3"}
	if len(fs) != 1 || !reflect.DeepEqual(fs[0].Facts, want) {
		t.Errorf("supplier-access findings = %+v, want one with facts %v", fs, want)
	}
}

// TestHostsFromReconcile runs the host rules over a map the configuration
// map reconciled, to keep the two in step.
func TestHostsFromReconcile(t *testing.T) {
	assets := []model.Asset{
		*asset("T1", "CZC1", "skole"), *asset("T2", "CZC2", "helse"), *asset("T3", "CZC3", "helse"), *asset("T4", "CZC4", "skole"),
	}
	hosts := []configmap.Host{
		{AgentID: "a1", Hostname: "pc-t1", Serial: "CZC1", LastSeen: hostNow.Add(-time.Minute)},
		{AgentID: "a2", Hostname: "pc-t2", Serial: "CZC2", LastSeen: hostNow.Add(-48 * time.Hour)},
		{AgentID: "a3", Hostname: "clone-1", Serial: "CZC3", LastSeen: hostNow.Add(-time.Minute)},
		{AgentID: "a4", Hostname: "clone-2", Serial: "czc3", LastSeen: hostNow.Add(-time.Minute)},
		{AgentID: "a5", Hostname: "home-pc", Serial: "XYZ", MACs: []string{"02:00:00:00:00:05"}, LastSeen: hostNow.Add(-time.Minute)},
	}
	devices := []configmap.Device{{MAC: "02:00:00:00:00:05"}, {MAC: "02:00:00:00:00:99", Vendor: "Acme", SeenBy: []string{"a1"}}}
	m := configmap.Reconcile(assets, hosts, devices, nil, configmap.Options{Now: hostNow, SilentAfter: 3 * time.Hour})
	fs := Hosts(HostInput{Map: m, Now: hostNow}, nil)
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule+" "+f.Subject+" "+f.Unit)
	}
	want := []string{
		"unregistered-host host:a5 ",
		"unknown-device device:02:00:00:00:00:99 ",
		"agent-silent asset:T2 helse",
		"duplicate-identity identity:czc3 helse",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Hosts over a reconciled map = %q, want %q (T4, never reported, is a coverage gap)", got, want)
	}
}
