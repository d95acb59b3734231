package storetest

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func testConfigMapIdentities(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag-b", "pc-b")
	createAgent(t, st, "ag-a", "pc-01")
	createAgent(t, st, "ag-c", "pc-c")

	ids, err := st.HostIdentities(ctx)
	must(t, "HostIdentities before any inventory", err)
	if got := identityIDs(ids); !slices.Equal(got, []string{"ag-a", "ag-b", "ag-c"}) {
		t.Fatalf("HostIdentities order = %v, want ag-a, ag-b, ag-c", got)
	}
	if id := ids[0]; id.Serial != "" || id.MACs != nil || id.SerialHistory != nil || id.Hostname != "pc-01" {
		t.Errorf("identity without inventory = %+v", id)
	}

	// ag-a: a laptop whose serial changes twice and changes back (a board
	// swap, then the old board again), with facts naming its interfaces.
	a := invA()
	a.Hardware.System.AssetTag = " K-0042 "
	a.Host.Interfaces = append(a.Host.Interfaces,
		wire.Interface{Name: "lo", MAC: "00:00:00:00:00:00", Addrs: []string{"127.0.0.1/8", "::1/128"}, Up: true},
		wire.Interface{Name: "wlp0s20f3", MAC: "3C-52-82-AA-BB-01", Addrs: []string{"10.20.31.7/24", "fe80::1/64"}, Up: true})
	s1 := snapshot(t, a)
	b1 := invBatch(t, "ag-a", 1, s1)
	b1.Facts, b1.FactsAt = s1.Host, invAt(1)
	ingest(t, st, b1)
	prev := s1
	for i, serial := range []string{"NEWBOARD1", "PF3XYZ99", "NEWBOARD1"} {
		next := a
		hw := *a.Hardware
		hw.System.Serial = serial
		next.Hardware = &hw
		next = snapshot(t, next)
		ingest(t, st, invBatch(t, "ag-a", uint64(2+i), diff(t, prev, next)))
		prev = next
	}
	// ag-b: revoked, facts but no inventory.
	bb := batch("ag-b", records(1, 1, "x"))
	bb.Facts, bb.FactsAt = &wire.Host{Hostname: "pc-b", Interfaces: []wire.Interface{{Name: "eth0", MAC: "aa:bb:cc:00:00:0b"}}}, at(time.Minute)
	ingest(t, st, bb)
	must(t, "RevokeAgent", st.RevokeAgent(ctx, "ag-b", at(2*time.Hour)))

	ids, err = st.HostIdentities(ctx)
	must(t, "HostIdentities", err)
	if len(ids) != 3 {
		t.Fatalf("HostIdentities = %d identities, want 3", len(ids))
	}
	want := model.HostIdentity{
		AgentID: "ag-a", Hostname: "pc-01", LastSeen: ids[0].LastSeen,
		MACs:          []string{"3c:52:82:aa:bb:01", "3c:52:82:aa:bb:cc"},
		Addrs:         []string{"10.20.30.40", "10.20.31.7", "fe80::1"},
		Serial:        "NEWBOARD1",
		AssetTag:      "K-0042",
		SerialHistory: []string{"PF3XYZ99", "PF3ABC12"},
	}
	if !reflect.DeepEqual(ids[0], want) {
		t.Errorf("identity of ag-a =\n%+v\nwant\n%+v", ids[0], want)
	}
	if ids[0].LastSeen.IsZero() {
		t.Error("identity of ag-a has no last seen after ingest")
	}
	if id := ids[1]; !id.Revoked || !slices.Equal(id.MACs, []string{"aa:bb:cc:00:00:0b"}) || id.Serial != "" {
		t.Errorf("identity of ag-b = %+v, want revoked with its MAC and no serial", id)
	}
	if id := ids[2]; id.Revoked || id.MACs != nil || !id.LastSeen.IsZero() {
		t.Errorf("identity of ag-c = %+v, want nothing known", id)
	}
}

func identityIDs(ids []model.HostIdentity) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.AgentID)
	}
	return out
}

func testConfigMapSnapshots(t *testing.T, st model.Store) {
	ctx := t.Context()
	_, err := st.SaveMapSnapshot(ctx, model.MapSnapshot{At: at(0), TakenBy: "ola"})
	wantErr(t, "SaveMapSnapshot without a map", err, model.ErrInvalid)
	_, err = st.SaveMapSnapshot(ctx, model.MapSnapshot{TakenBy: "ola", JSON: []byte(`{}`)})
	wantErr(t, "SaveMapSnapshot without a time", err, model.ErrInvalid)
	_, err = st.ListMapSnapshots(ctx, 0)
	wantErr(t, "ListMapSnapshots(0)", err, model.ErrInvalid)
	if got, err := st.ListMapSnapshots(ctx, 5); err != nil || len(got) != 0 {
		t.Errorf("ListMapSnapshots on an empty store = %v, %v", got, err)
	}

	var saved []model.MapSnapshot
	for i, s := range []model.MapSnapshot{
		{At: at(time.Hour), TakenBy: "system", Note: "daily", JSON: []byte(`{"entries":[],"n":1}`), Counts: map[string]int{"matched": 3, "silent": 1}},
		{At: at(3 * time.Hour), TakenBy: "kari", Note: "review 2026", JSON: []byte(`{"entries":[],"n":2}`), Counts: map[string]int{"conflict": 2}},
		{At: at(2 * time.Hour), TakenBy: "system", JSON: []byte(`{"entries":[],"n":3}`)},
	} {
		id, err := st.SaveMapSnapshot(ctx, s)
		must(t, "SaveMapSnapshot", err)
		if i > 0 && id <= saved[i-1].ID {
			t.Errorf("snapshot ids do not grow: %d after %d", id, saved[i-1].ID)
		}
		s.ID = id
		if s.Counts == nil {
			s.Counts = map[string]int{}
		}
		saved = append(saved, s)
	}

	list, err := st.ListMapSnapshots(ctx, 2)
	must(t, "ListMapSnapshots(2)", err)
	if len(list) != 2 || list[0].ID != saved[1].ID || list[1].ID != saved[2].ID {
		t.Fatalf("ListMapSnapshots(2) = %+v, want snapshots %d and %d, newest first", list, saved[1].ID, saved[2].ID)
	}
	if l := list[0]; l.JSON != nil || !l.At.Equal(saved[1].At) || l.TakenBy != "kari" || l.Note != "review 2026" || !reflect.DeepEqual(l.Counts, saved[1].Counts) {
		t.Errorf("listed snapshot = %+v, want %+v without JSON", l, saved[1])
	}

	for _, want := range saved {
		got, err := st.GetMapSnapshot(ctx, want.ID)
		must(t, "GetMapSnapshot", err)
		if !bytes.Equal(got.JSON, want.JSON) || !got.At.Equal(want.At) || got.TakenBy != want.TakenBy || got.Note != want.Note || !reflect.DeepEqual(got.Counts, want.Counts) {
			t.Errorf("GetMapSnapshot(%d) = %+v, want %+v", want.ID, got, want)
		}
	}
	_, err = st.GetMapSnapshot(ctx, saved[2].ID+100)
	wantErr(t, "GetMapSnapshot of an unknown id", err, model.ErrNotFound)

	evs, err := st.ListAudit(ctx, 0, 100)
	must(t, "ListAudit", err)
	var actors []string
	for _, e := range evs {
		if e.Action == "configmap.snapshot" {
			actors = append(actors, e.Actor)
		}
	}
	if !slices.Equal(actors, []string{"system", "kari", "system"}) {
		t.Errorf("audited snapshots by %v, want system, kari, system", actors)
	}
}
