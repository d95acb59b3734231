package configmap

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func asset(tag, serial string, macs ...string) model.Asset {
	return model.Asset{Tag: tag, Type: model.AssetPC, Serial: serial, MACs: macs, Hostname: "h-" + tag,
		OwnerUnit: "unit-" + tag, Zone: "adm", Status: model.AssetActive}
}

func retired(a model.Asset) model.Asset { a.Status = model.AssetRetired; return a }

func host(id, serial string, macs ...string) Host {
	return Host{AgentID: id, Hostname: "host-" + id, Serial: serial, MACs: macs, LastSeen: now.Add(-time.Minute)}
}

func seen(h Host, ago time.Duration) Host { h.LastSeen = now.Add(-ago); return h }
func revoked(h Host) Host                 { h.Revoked = true; return h }

// got is an entry reduced to what the tests compare.
type got struct {
	kind, key string
	state     State
	agents    string
}

func summarize(m Map) []got {
	var out []got
	for _, e := range m.Entries {
		out = append(out, got{e.Kind, e.Key(), e.State, strings.Join(e.AgentIDs, ",")})
	}
	return out
}

func TestReconcile(t *testing.T) {
	tests := []struct {
		name    string
		assets  []model.Asset
		hosts   []Host
		devices []Device
		want    []got
		reasons map[string]string // entry key -> a substring one of its reasons must hold
	}{
		{
			name:    "serial matches case-insensitively and trimmed",
			assets:  []model.Asset{asset("A1", "abc123")},
			hosts:   []Host{host("ag1", "  ABC123 ")},
			want:    []got{{KindAsset, "A1", Matched, "ag1"}},
			reasons: map[string]string{"A1": "serial ABC123 matches asset A1"},
		},
		{
			name:    "MAC matches when the serial does not",
			assets:  []model.Asset{asset("A1", "", "aa:bb:cc:00:00:01")},
			hosts:   []Host{host("ag1", "XYZ", "AA-BB-CC-00-00-01")},
			want:    []got{{KindAsset, "A1", Matched, "ag1"}},
			reasons: map[string]string{"A1": "MAC aa:bb:cc:00:00:01 matches asset A1"},
		},
		{
			name:   "asset tag matches last",
			assets: []model.Asset{asset("K-0042", "")},
			hosts:  []Host{{AgentID: "ag1", AssetTag: "k-0042", LastSeen: now}},
			want:   []got{{KindAsset, "K-0042", Matched, "ag1"}},
		},
		{
			name:   "hostname alone never matches",
			assets: []model.Asset{asset("A1", "S1")},
			hosts:  []Host{{AgentID: "ag1", Hostname: "H-A1", Serial: "S2", LastSeen: now}},
			want: []got{
				{KindAsset, "A1", Silent, ""},
				{KindAgent, "ag1", Unregistered, "ag1"},
			},
			reasons: map[string]string{"A1": "no agent reports", "ag1": "hostname H-A1 is asset A1's hostname"},
		},
		{
			name:    "asset without agent is silent",
			assets:  []model.Asset{asset("A1", "S1")},
			want:    []got{{KindAsset, "A1", Silent, ""}},
			reasons: map[string]string{"A1": "no agent reports this asset"},
		},
		{
			name:    "asset whose agent is quiet past SilentAfter is silent",
			assets:  []model.Asset{asset("A1", "S1")},
			hosts:   []Host{seen(host("ag1", "S1"), 26*time.Hour)},
			want:    []got{{KindAsset, "A1", Silent, "ag1"}},
			reasons: map[string]string{"A1": "agent ag1 has not reported for 26h"},
		},
		{
			name:   "agent quiet just under SilentAfter still matches",
			assets: []model.Asset{asset("A1", "S1")},
			hosts:  []Host{seen(host("ag1", "S1"), 3*time.Hour)},
			want:   []got{{KindAsset, "A1", Matched, "ag1"}},
		},
		{
			name:    "asset whose only agent is revoked is silent",
			assets:  []model.Asset{asset("A1", "S1")},
			hosts:   []Host{revoked(host("ag1", "S1"))},
			want:    []got{{KindAsset, "A1", Silent, "ag1"}},
			reasons: map[string]string{"A1": "agent ag1 is revoked"},
		},
		{
			name:   "a revoked old agent beside a live one is no conflict",
			assets: []model.Asset{asset("A1", "S1")},
			hosts:  []Host{revoked(host("old", "S1")), host("new", "S1")},
			want:   []got{{KindAsset, "A1", Matched, "new,old"}},
		},
		{
			name:    "agent matching no asset is unregistered",
			hosts:   []Host{host("ag1", "S9", "aa:bb:cc:00:00:09")},
			want:    []got{{KindAgent, "ag1", Unregistered, "ag1"}},
			reasons: map[string]string{"ag1": "matches no asset"},
		},
		{
			name:    "silent agent matching no asset is still unregistered",
			hosts:   []Host{seen(host("ag1", "S9"), 48*time.Hour)},
			want:    []got{{KindAgent, "ag1", Unregistered, "ag1"}},
			reasons: map[string]string{"ag1": "has not reported for 48h"},
		},
		{
			name:  "revoked agent matching no asset is left out",
			hosts: []Host{revoked(host("ag1", "S9"))},
			want:  nil,
		},
		{
			name:    "agent matching only a retired asset is unregistered, and says so",
			assets:  []model.Asset{retired(asset("OLD", "S1"))},
			hosts:   []Host{host("ag1", "S1")},
			want:    []got{{KindAgent, "ag1", Unregistered, "ag1"}},
			reasons: map[string]string{"ag1": "matches only retired asset OLD"},
		},
		{
			name:    "two agents claiming one serial are a conflict (cloned image)",
			assets:  []model.Asset{asset("A1", "S1")},
			hosts:   []Host{host("ag1", "S1"), seen(host("ag2", "s1"), 30*time.Hour)},
			want:    []got{{KindAsset, "A1", Conflict, "ag1,ag2"}},
			reasons: map[string]string{"A1": "2 agents claim asset A1: ag1, ag2"},
		},
		{
			name:   "two agents claiming one MAC are a conflict",
			assets: []model.Asset{asset("A1", "", "aa:bb:cc:00:00:01")},
			hosts:  []Host{host("ag1", "", "aa:bb:cc:00:00:01"), host("ag2", "", "aa:bb:cc:00:00:01")},
			want:   []got{{KindAsset, "A1", Conflict, "ag1,ag2"}},
		},
		{
			name:   "one agent matching two assets is a conflict on both",
			assets: []model.Asset{asset("A1", "", "aa:bb:cc:00:00:01"), asset("A2", "", "aa:bb:cc:00:00:02")},
			hosts:  []Host{host("ag1", "", "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02")},
			want: []got{
				{KindAsset, "A1", Conflict, "ag1"},
				{KindAsset, "A2", Conflict, "ag1"},
			},
			reasons: map[string]string{"A1": "agent ag1 also matches asset A2", "A2": "agent ag1 also matches asset A1"},
		},
		{
			name:   "an agent whose serial changed is a conflict",
			assets: []model.Asset{asset("A1", "NEW")},
			hosts: []Host{func() Host {
				h := host("ag1", "NEW")
				h.SerialHistory = []string{"OLD"}
				return h
			}()},
			want:    []got{{KindAsset, "A1", Conflict, "ag1"}},
			reasons: map[string]string{"A1": "reported serial OLD before and NEW now"},
		},
		{
			name: "an unregistered agent whose serial changed is a conflict",
			hosts: []Host{func() Host {
				h := host("ag1", "NEW")
				h.SerialHistory = []string{"OLD"}
				return h
			}()},
			want: []got{{KindAgent, "ag1", Conflict, "ag1"}},
		},
		{
			name:   "a history of junk or the same serial is no change",
			assets: []model.Asset{asset("A1", "NEW")},
			hosts: []Host{func() Host {
				h := host("ag1", "NEW")
				h.SerialHistory = []string{"new ", "To be filled by O.E.M.", ""}
				return h
			}()},
			want: []got{{KindAsset, "A1", Matched, "ag1"}},
		},
		{
			name:    "a device nobody accounts for is unregistered",
			devices: []Device{{MAC: "AA:BB:CC:00:00:99", IPs: []string{"10.0.0.9"}, Vendor: "Acme", SeenBy: []string{"ag1"}}},
			want:    []got{{KindDevice, "aa:bb:cc:00:00:99", Unregistered, "ag1"}},
			reasons: map[string]string{"aa:bb:cc:00:00:99": "vendor Acme"},
		},
		{
			name:   "devices that are an asset or a reporting agent are left out",
			assets: []model.Asset{asset("A1", "S1", "aa:bb:cc:00:00:01")},
			hosts:  []Host{host("ag1", "S1"), seen(host("ag2", "S2", "aa:bb:cc:00:00:02"), 100*time.Hour)},
			devices: []Device{
				{MAC: "aa:bb:cc:00:00:01"}, {MAC: "aa:bb:cc:00:00:02"}, {MAC: "aa:bb:cc:00:00:02"},
			},
			want: []got{
				{KindAsset, "A1", Matched, "ag1"},
				{KindAgent, "ag2", Unregistered, "ag2"},
			},
		},
		{
			name:    "a device with a retired asset's MAC is unregistered",
			assets:  []model.Asset{retired(asset("OLD", "", "aa:bb:cc:00:00:01"))},
			devices: []Device{{MAC: "aa:bb:cc:00:00:01"}},
			want:    []got{{KindDevice, "aa:bb:cc:00:00:01", Unregistered, ""}},
			reasons: map[string]string{"aa:bb:cc:00:00:01": "retired asset OLD"},
		},
		{
			name:    "a device with a revoked agent's MAC is unregistered",
			hosts:   []Host{revoked(host("gone", "S1", "aa:bb:cc:00:00:01"))},
			devices: []Device{{MAC: "aa:bb:cc:00:00:01"}},
			want:    []got{{KindDevice, "aa:bb:cc:00:00:01", Unregistered, ""}},
			reasons: map[string]string{"aa:bb:cc:00:00:01": "revoked agent gone"},
		},
		{
			name:    "a malformed device MAC is skipped",
			devices: []Device{{MAC: "zz"}},
			want:    nil,
		},
		{
			name:   "entries sort by kind, then key",
			assets: []model.Asset{asset("B", "SB"), asset("A", "SA")},
			hosts:  []Host{host("z", "SZ"), host("y", "SA")},
			devices: []Device{
				{MAC: "aa:bb:cc:00:00:02"}, {MAC: "aa:bb:cc:00:00:01"},
			},
			want: []got{
				{KindAsset, "A", Matched, "y"},
				{KindAsset, "B", Silent, ""},
				{KindAgent, "z", Unregistered, "z"},
				{KindDevice, "aa:bb:cc:00:00:01", Unregistered, ""},
				{KindDevice, "aa:bb:cc:00:00:02", Unregistered, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Reconcile(tt.assets, tt.hosts, tt.devices, nil, Options{Now: now})
			if g := summarize(m); !slices.Equal(g, tt.want) {
				t.Fatalf("entries:\n got %v\nwant %v", g, tt.want)
			}
			counts := map[State]int{}
			for _, w := range tt.want {
				counts[w.state]++
			}
			for _, s := range States {
				if m.Counts[s] != counts[s] {
					t.Errorf("count %s = %d, want %d", s, m.Counts[s], counts[s])
				}
			}
			for _, e := range m.Entries {
				wantReasons(t, e)
			}
			for key, want := range tt.reasons {
				i := slices.IndexFunc(m.Entries, func(e Entry) bool { return e.Key() == key })
				if i < 0 {
					t.Fatalf("no entry %s", key)
				}
				if !slices.ContainsFunc(m.Entries[i].Reasons, func(r string) bool { return strings.Contains(r, want) }) {
					t.Errorf("entry %s reasons %q hold no %q", key, m.Entries[i].Reasons, want)
				}
			}
		})
	}
}

func TestReconcileJunkSerials(t *testing.T) {
	for _, junk := range []string{"", "0", "None", "Default string", "To be filled by O.E.M.", "System Serial Number",
		"Not Specified", "123456789", " not specified ", "00000000", "N/A"} {
		t.Run(junk, func(t *testing.T) {
			m := Reconcile([]model.Asset{asset("A1", junk)}, []Host{host("ag1", junk)}, nil, nil, Options{Now: now})
			want := []got{{KindAsset, "A1", Silent, ""}, {KindAgent, "ag1", Unregistered, "ag1"}}
			if g := summarize(m); !slices.Equal(g, want) {
				t.Fatalf("serial %q:\n got %v\nwant %v", junk, g, want)
			}
		})
	}
	// Two clones with the same junk serial and different MACs are no conflict.
	m := Reconcile([]model.Asset{asset("A1", "Default string", "aa:bb:cc:00:00:01")},
		[]Host{host("ag1", "Default string", "aa:bb:cc:00:00:01"), host("ag2", "Default string", "aa:bb:cc:00:00:02")},
		nil, nil, Options{Now: now})
	want := []got{{KindAsset, "A1", Matched, "ag1"}, {KindAgent, "ag2", Unregistered, "ag2"}}
	if g := summarize(m); !slices.Equal(g, want) {
		t.Fatalf("junk-serial clones:\n got %v\nwant %v", g, want)
	}
}

func TestReconcileFields(t *testing.T) {
	a := asset("A1", "S1", "aa:bb:cc:00:00:01")
	h := host("ag1", "S1", "aa:bb:cc:00:00:01")
	h.IPs = []string{"10.0.0.1"}
	links := []Link{{From: "b", To: "a", Flows: 2}, {From: "a", To: "b", Flows: 3, Allowed: true}}
	m := Reconcile([]model.Asset{a}, []Host{h}, nil, links, Options{Now: now, SilentAfter: time.Minute / 2})
	e := m.Entries[0]
	if e.State != Silent {
		t.Errorf("SilentAfter 30s, agent seen a minute ago: state %s, want silent", e.State)
	}
	if e.Unit != "unit-A1" || e.Zone != "adm" || e.Hostname != "h-A1" || e.Serial != "S1" || e.Asset == nil || e.Asset.Tag != "A1" {
		t.Errorf("asset fields not carried: %+v", e)
	}
	if !m.At.Equal(now) {
		t.Errorf("At = %v, want %v", m.At, now)
	}
	if m.Links[0].From != "a" || m.Links[1].From != "b" {
		t.Errorf("links not sorted: %+v", m.Links)
	}
	noName := a
	noName.Hostname = ""
	m = Reconcile([]model.Asset{noName}, []Host{revoked(host("old", "S1")), seen(h, 48*time.Hour)}, nil, nil, Options{Now: now})
	if e := m.Entries[0]; e.Hostname != "host-ag1" || e.State != Silent {
		t.Errorf("an asset without a hostname takes its (silent, not revoked) agent's: %+v", e)
	}
	m = Reconcile([]model.Asset{a}, []Host{h}, nil, nil, Options{Now: now})
	if e := m.Entries[0]; e.State != Matched || !slices.Equal(e.IPs, []string{"10.0.0.1"}) || !e.LastSeen.Equal(h.LastSeen) {
		t.Errorf("matched entry: %+v", e)
	}
}

func TestSerialKey(t *testing.T) {
	for in, want := range map[string]string{" Ab1 ": "ab1", "PF3XYZ": "pf3xyz", "0000": "", "xxxxx": "", "None": ""} {
		k, ok := SerialKey(in)
		if k != want || ok != (want != "") {
			t.Errorf("SerialKey(%q) = %q, %v; want %q", in, k, ok, want)
		}
	}
}

// estate returns a synthetic estate: n assets, n hosts (most matching by
// serial, some by MAC, some unregistered, some silent) and d devices.
func estate(n, d int) ([]model.Asset, []Host, []Device) {
	assets := make([]model.Asset, n)
	hosts := make([]Host, n)
	mac := func(i int) string {
		return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", i>>24&255, i>>16&255, i>>8&255, i&255)
	}
	for i := range n {
		assets[i] = asset(fmt.Sprintf("K-%06d", i), fmt.Sprintf("SN%06d", i), mac(i))
		hosts[i] = host(fmt.Sprintf("agent-%06d", i), fmt.Sprintf("SN%06d", i), mac(i))
		switch i % 10 {
		case 1:
			hosts[i].Serial = "To be filled by O.E.M."
		case 2:
			hosts[i].Serial, hosts[i].MACs = fmt.Sprintf("X%06d", i), []string{mac(n + i)}
		case 3:
			hosts[i].LastSeen = now.Add(-48 * time.Hour)
		}
	}
	devices := make([]Device, d)
	for i := range d {
		devices[i] = Device{MAC: mac(i), IPs: []string{"10.1.0.1"}, SeenBy: []string{"agent-000001"}}
	}
	return assets, hosts, devices
}

func TestReconcileEstate(t *testing.T) {
	assets, hosts, devices := estate(1000, 4000)
	m := Reconcile(assets, hosts, devices, nil, Options{Now: now})
	want := map[State]int{Matched: 800, Silent: 200, Unregistered: 100 + 3000 - 100, Conflict: 0}
	for _, s := range States {
		if m.Counts[s] != want[s] {
			t.Errorf("%s: %d, want %d", s, m.Counts[s], want[s])
		}
	}
	again := Reconcile(assets, hosts, devices, nil, Options{Now: now})
	if d := Diff(m, again); len(d) != 0 {
		t.Errorf("the same input gave another map: %v", d[:min(3, len(d))])
	}
}

func BenchmarkReconcile(b *testing.B) {
	assets, hosts, devices := estate(5000, 20000)
	b.ReportAllocs()
	for b.Loop() {
		Reconcile(assets, hosts, devices, nil, Options{Now: now})
	}
}

// wantReasons checks that every reason has a format that takes its
// arguments, and that Reasons says Why in English.
func wantReasons(t *testing.T, e Entry) {
	t.Helper()
	if len(e.Why) == 0 || len(e.Why) != len(e.Reasons) {
		t.Errorf("entry %s: %d reasons, %d texts", e.Key(), len(e.Why), len(e.Reasons))
		return
	}
	for i, r := range e.Why {
		f, ok := ReasonFormats[r.Code]
		if !ok {
			t.Errorf("entry %s: reason code %q has no format", e.Key(), r.Code)
		}
		if n := strings.Count(f, "%s"); n != len(r.Args) {
			t.Errorf("entry %s: reason %s has %d args for %d verbs", e.Key(), r.Code, len(r.Args), n)
		}
		if e.Reasons[i] != r.String() {
			t.Errorf("entry %s: text %q is not %q", e.Key(), e.Reasons[i], r.String())
		}
	}
}
