package configmap

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestDiff(t *testing.T) {
	assets := []model.Asset{asset("A1", "S1"), asset("A2", "S2"), asset("A3", "S3")}
	before := Reconcile(assets, []Host{host("ag1", "S1"), host("ag2", "S2"), host("x", "SX")}, nil, nil, Options{Now: now})

	later := now.Add(24 * time.Hour)
	assets2 := []model.Asset{asset("A1", "S1"), asset("A2", "S2"), asset("A4", "S4")}
	assets2[0].Zone = "skole"
	hosts2 := []Host{
		{AgentID: "ag1", Serial: "S1", Hostname: "host-ag1", LastSeen: later},
		{AgentID: "ag2", Serial: "S2", Hostname: "host-ag2", LastSeen: now}, // silent by now
		{AgentID: "new", Serial: "SN", LastSeen: later},
	}
	after := Reconcile(assets2, hosts2, nil, nil, Options{Now: later})

	got := Diff(before, after)
	type op struct{ kind, key, op string }
	var ops []op
	for _, c := range got {
		ops = append(ops, op{c.Kind, c.Key, c.Op})
	}
	want := []op{
		{KindAsset, "A1", OpChanged}, // zone
		{KindAsset, "A2", OpChanged}, // matched -> silent
		{KindAsset, "A3", OpRemoved},
		{KindAsset, "A4", OpAdded},
		{KindAgent, "new", OpAdded},
		{KindAgent, "x", OpRemoved},
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("diff:\n got %v\nwant %v", ops, want)
	}
	if c := got[1]; !strings.HasPrefix(c.Before, "matched") || !strings.HasPrefix(c.After, "silent") {
		t.Errorf("A2: before %q after %q", c.Before, c.After)
	}
	if c := got[0]; !strings.Contains(c.Before, "zone adm") || !strings.Contains(c.After, "zone skole") {
		t.Errorf("A1: before %q after %q", c.Before, c.After)
	}
	if c := got[2]; c.After != "" || c.Before == "" {
		t.Errorf("removed: %+v", c)
	}
	if d := Diff(after, after); len(d) != 0 {
		t.Errorf("a map differs from itself: %v", d)
	}
}

func TestDiffIgnoresVolatileFields(t *testing.T) {
	a := []model.Asset{asset("A1", "S1")}
	h := host("ag1", "S1")
	m1 := Reconcile(a, []Host{h}, nil, nil, Options{Now: now})
	h.LastSeen, h.IPs = now, []string{"10.9.9.9"}
	m2 := Reconcile(a, []Host{h}, nil, nil, Options{Now: now.Add(time.Hour)})
	if d := Diff(m1, m2); len(d) != 0 {
		t.Errorf("last seen and addresses counted as changes: %v", d)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	assets := []model.Asset{asset("A1", "S1", "aa:bb:cc:00:00:01"), asset("A2", "S2")}
	hosts := []Host{host("ag1", "S1"), host("ag2", "S9")}
	devices := []Device{{MAC: "aa:bb:cc:00:00:99", IPs: []string{"10.0.0.9"}, Last: now}}
	m := Reconcile(assets, hosts, devices, []Link{{From: "a", To: "b", Flows: 4, Allowed: true}}, Options{Now: now})
	s, err := Encode(m, "ola", "review 2026")
	if err != nil {
		t.Fatal(err)
	}
	if s.Counts["matched"] != 1 || s.Counts["silent"] != 1 || s.Counts["unregistered"] != 2 || s.Counts["conflict"] != 0 {
		t.Errorf("counts %v", s.Counts)
	}
	back, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(m, back); len(d) != 0 {
		t.Errorf("the decoded map differs: %v", d)
	}
	if !back.At.Equal(now) || len(back.Links) != 1 || back.Links[0] != m.Links[0] || back.Entries[0].Asset.Tag != "A1" ||
		!slices.Equal(back.Entries[0].Reasons, m.Entries[0].Reasons) {
		t.Errorf("decoded map: %+v", back)
	}
	var raw struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(s.JSON, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Entries[0]["key"] != "A1" || raw.Entries[0]["state"] != "matched" {
		t.Errorf("JSON entry keys: %v", raw.Entries[0])
	}
	if _, err := Decode(model.MapSnapshot{ID: 3, JSON: []byte("{")}); err == nil || !strings.Contains(err.Error(), "snapshot 3") {
		t.Errorf("bad JSON: %v", err)
	}
}

// fakeSource is a Source and SnapshotStore in memory.
type fakeSource struct {
	assets    []model.Asset
	ids       []model.HostIdentity
	ns        []model.Neighbour
	pairs     []model.ZonePair
	from      time.Time
	snaps     []model.MapSnapshot
	failBuild error
}

func (f *fakeSource) Assets(context.Context) ([]model.Asset, error) { return f.assets, f.failBuild }
func (f *fakeSource) HostIdentities(context.Context) ([]model.HostIdentity, error) {
	return f.ids, nil
}
func (f *fakeSource) Neighbours(context.Context) ([]model.Neighbour, error) { return f.ns, nil }
func (f *fakeSource) ZoneMatrix(_ context.Context, from, _ time.Time) ([]model.ZonePair, error) {
	f.from = from
	return f.pairs, nil
}
func (f *fakeSource) SaveMapSnapshot(_ context.Context, s model.MapSnapshot) (int64, error) {
	s.ID = int64(len(f.snaps) + 1)
	f.snaps = append(f.snaps, s)
	return s.ID, nil
}
func (f *fakeSource) ListMapSnapshots(_ context.Context, limit int) ([]model.MapSnapshot, error) {
	out := slices.Clone(f.snaps)
	slices.Reverse(out)
	return out[:min(limit, len(out))], nil
}

func TestBuild(t *testing.T) {
	src := &fakeSource{
		assets: []model.Asset{asset("A1", "", "aa:bb:cc:00:00:01")},
		ids: []model.HostIdentity{{AgentID: "ag1", MACs: []string{"aa:bb:cc:00:00:01"}, Addrs: []string{"10.1.0.5"}, LastSeen: now},
			{AgentID: "ag2", Serial: "S2", Addrs: []string{"10.2.0.5"}, LastSeen: now, SerialHistory: []string{"S1"}}},
		ns:    []model.Neighbour{{Neighbour: wire.Neighbour{MAC: "aa:bb:cc:00:00:77", IPs: []string{"10.2.0.77"}, Last: now.UnixNano()}}},
		pairs: []model.ZonePair{{From: "adm", To: "skole", Flows: 3, Denied: 1}, {From: "skole", To: "adm", Flows: 1}},
	}
	zoneOf := func(ip netip.Addr) string {
		if ip.As4()[1] == 1 {
			return "adm"
		}
		return "skole"
	}
	m, err := Build(context.Background(), src, BuildOptions{Options: Options{Now: now}, ZoneOf: zoneOf})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{KindAsset, "A1", Matched, "ag1"}, {KindAgent, "ag2", Conflict, "ag2"}, {KindDevice, "aa:bb:cc:00:00:77", Unregistered, ""}}
	if g := summarize(m); !slices.Equal(g, want) {
		t.Fatalf("entries:\n got %v\nwant %v", g, want)
	}
	if m.Entries[1].Zone != "skole" || m.Entries[2].Zone != "skole" || !m.Entries[2].LastSeen.Equal(now) {
		t.Errorf("zones or last seen: %+v / %+v", m.Entries[1], m.Entries[2])
	}
	if !src.from.Equal(now.Add(-LinkWindow)) {
		t.Errorf("zone matrix from %v, want 7 days back", src.from)
	}
	if len(m.Links) != 2 || m.Links[0].Allowed || !m.Links[1].Allowed {
		t.Errorf("links: %+v", m.Links)
	}
	m, err = Build(context.Background(), src, BuildOptions{Options: Options{Now: now}, Allowed: func(from, to string) bool { return from == "adm" }})
	if err != nil || !m.Links[0].Allowed || m.Links[1].Allowed {
		t.Errorf("links judged by Allowed: %+v, %v", m.Links, err)
	}
	src.failBuild = errors.New("disk gone")
	if _, err := Build(context.Background(), src, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("Build error: %v", err)
	}
}

func TestSnapshotter(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{assets: []model.Asset{asset("A1", "S1")}}
	clock := now
	s := &Snapshotter{Store: src, Now: func() time.Time { return clock },
		Build: func(ctx context.Context) (Map, error) {
			return Build(ctx, src, BuildOptions{Options: Options{Now: clock}})
		}}
	steps := []struct {
		advance time.Duration
		took    bool
	}{
		{0, true},               // none stored: take one at start
		{time.Hour, false},      // the newest is an hour old
		{23 * time.Hour, true},  // 24 hours since the last
		{23 * time.Hour, false}, // 23 hours since the last
	}
	for i, st := range steps {
		clock = clock.Add(st.advance)
		took, err := s.Tick(ctx)
		if err != nil || took != st.took {
			t.Fatalf("step %d: took %v, %v; want %v", i, took, err, st.took)
		}
	}
	if len(src.snaps) != 2 || src.snaps[0].TakenBy != SystemActor || src.snaps[0].Counts["silent"] != 1 || !src.snaps[1].At.Equal(now.Add(24*time.Hour)) {
		t.Errorf("snapshots: %+v", src.snaps)
	}
	src.failBuild = errors.New("disk gone")
	clock = clock.Add(48 * time.Hour)
	if _, err := s.Tick(ctx); err == nil {
		t.Error("a failed build took a snapshot")
	}
	// Run takes the due snapshot at start and returns when ctx ends.
	src.failBuild = nil
	ctx2, cancel := context.WithCancel(ctx)
	s.Build = func(ctx context.Context) (Map, error) {
		defer cancel()
		return Build(ctx, src, BuildOptions{Options: Options{Now: clock}})
	}
	if err := s.Run(ctx2); err != nil {
		t.Fatal(err)
	}
	if len(src.snaps) != 3 {
		t.Errorf("Run took %d snapshots in all, want 3", len(src.snaps))
	}
}

func TestDiffDeviceSeenByIsNoChange(t *testing.T) {
	d1 := []Device{{MAC: "aa:bb:cc:00:00:99", SeenBy: []string{"ag1"}}}
	d2 := []Device{{MAC: "aa:bb:cc:00:00:99", SeenBy: []string{"ag1", "ag2"}, Name: "printer"}}
	m1 := Reconcile(nil, nil, d1, nil, Options{Now: now})
	m2 := Reconcile(nil, nil, d1[:0:0], nil, Options{Now: now})
	m3 := Reconcile(nil, nil, d2, nil, Options{Now: now})
	if d := Diff(m1, m2); len(d) != 1 || d[0].Op != OpRemoved || d[0].Kind != KindDevice {
		t.Errorf("device gone: %v", d)
	}
	d := Diff(m1, m3)
	if len(d) != 1 || d[0].Op != OpChanged || strings.Contains(d[0].After, "ag2") || !strings.Contains(d[0].After, "host printer") {
		t.Errorf("device renamed and seen by one more agent: %v", d)
	}
}
