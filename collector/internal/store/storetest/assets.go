package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Asset register fixtures: tags that sort differently by bytes than by any
// language's rules ("K-10" before "K-2", upper case before lower, "Ø"
// after ASCII), MACs in every form an import may bring.

func assets(t *testing.T, st model.Store) []model.Asset {
	t.Helper()
	as, err := st.Assets(t.Context())
	must(t, "Assets", err)
	for i := range as {
		as[i].UpdatedAt = as[i].UpdatedAt.UTC()
	}
	return as
}

func assetTags(as []model.Asset) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Tag)
	}
	return out
}

// assetAudit checks the audit events of asset register changes: action and
// subject (in any order, the store may write them as it likes), by actor at
// when, with before and after present as the action says, each side naming
// the asset and, for macs, its MACs as the register held them.
func assetAudit(t *testing.T, what string, es []model.AuditEvent, actor string, when time.Time, macs map[string][]string, want ...string) {
	t.Helper()
	var got []string
	for _, e := range es {
		if !strings.HasPrefix(e.Action, "asset.") {
			continue
		}
		got = append(got, e.Action+" "+e.Subject)
		if e.Actor != actor || !e.At.Equal(when) {
			t.Errorf("%s: audit %s %s by %q at %v, want by %q at %v", what, e.Action, e.Subject, e.Actor, e.At, actor, when)
		}
		type side struct {
			Tag  string   `json:"tag"`
			MACs []string `json:"macs"`
		}
		var d struct{ Before, After *side }
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Errorf("%s: audit %s %s detail %q: %v", what, e.Action, e.Subject, e.Detail, err)
			continue
		}
		wantBefore, wantAfter := e.Action != "asset.add", e.Action != "asset.remove"
		if (d.Before != nil) != wantBefore || (d.After != nil) != wantAfter {
			t.Errorf("%s: audit %s %s detail %s: before/after present %v/%v, want %v/%v", what, e.Action, e.Subject, e.Detail,
				d.Before != nil, d.After != nil, wantBefore, wantAfter)
		}
		for _, s := range []*side{d.Before, d.After} {
			if s != nil && s.Tag != e.Subject {
				t.Errorf("%s: audit %s %s detail %s names %q", what, e.Action, e.Subject, e.Detail, s.Tag)
			}
		}
		if m, ok := macs[e.Action+" "+e.Subject]; ok {
			s := d.After
			if e.Action == "asset.remove" {
				s = d.Before
			}
			if s == nil || !slices.Equal(s.MACs, m) {
				t.Errorf("%s: audit %s %s detail %s, want MACs %q", what, e.Action, e.Subject, e.Detail, m)
			}
		}
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: audit = %q, want %q (any order)", what, got, want)
	}
}

func testAssetRegister(t *testing.T, st model.Store) {
	ctx := t.Context()
	if as := assets(t, st); len(as) != 0 {
		t.Errorf("Assets on an empty store = %+v, want none", as)
	}
	t1 := at(time.Hour)
	in := []model.Asset{
		{Tag: "K-2", Type: model.AssetServer, Serial: "SRV9", MACs: []string{"AA-BB-CC-DD-EE-03"}, OperatedBy: "Acme Drift AS",
			Status: model.AssetRetired, Hostname: "srv-09", OwnerUnit: "IT", Responsible: "Ola", Building: "Rådhuset", Zone: "servere",
			Note: "«gammel»"},
		{Tag: "K-10", Type: model.AssetPC, Serial: "PF3", MACs: []string{"aa:bb:cc:dd:ee:02", "AABB.CCDD.EE01", "aabbccddee01"}, Room: "2.14"},
		{Tag: "k-1", Type: model.AssetPrinter},
		{Tag: "Ø-1", Type: model.AssetPhone, MACs: []string{"02:00:00:00:00:0a"}},
	}
	seq := lastAuditSeq(t, st)
	ch, err := st.ImportAssets(ctx, in, false, "kari", t1)
	must(t, "ImportAssets(4 new)", err)
	if want := (model.RegisterChange{Added: 4}); ch != want {
		t.Errorf("ImportAssets(4 new) = %+v, want %+v", ch, want)
	}
	stampedAsset := func(a model.Asset, macs []string, status, by string, when time.Time) model.Asset {
		a.MACs, a.Status, a.UpdatedBy, a.UpdatedAt = macs, status, by, when
		return a
	}
	want := []model.Asset{
		stampedAsset(in[1], []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"}, model.AssetActive, "kari", t1),
		stampedAsset(in[0], []string{"aa:bb:cc:dd:ee:03"}, model.AssetRetired, "kari", t1),
		stampedAsset(in[2], nil, model.AssetActive, "kari", t1),
		stampedAsset(in[3], []string{"02:00:00:00:00:0a"}, model.AssetActive, "kari", t1),
	}
	if got := assets(t, st); !reflect.DeepEqual(got, want) {
		t.Fatalf("Assets =\n%+v\nwant\n%+v", got, want)
	}
	es := auditSince(t, st, seq)
	assetAudit(t, "import 4 new", normAudit(es), "kari", t1, map[string][]string{"asset.add K-10": want[0].MACs},
		"asset.add K-10", "asset.add K-2", "asset.add k-1", "asset.add Ø-1")

	// The same again changes nothing, audits nothing, and keeps who wrote
	// each asset when.
	seq = lastAuditSeq(t, st)
	t2 := at(2 * time.Hour)
	ch, err = st.ImportAssets(ctx, in, false, "ola", t2)
	must(t, "ImportAssets(same again)", err)
	if want := (model.RegisterChange{Unchanged: 4}); ch != want {
		t.Errorf("ImportAssets(same again) = %+v, want %+v", ch, want)
	}
	if es := auditSince(t, st, seq); len(es) != 0 {
		t.Errorf("ImportAssets(same again) audited %q", auditActions(es))
	}
	if got := assets(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("Assets after the same import =\n%+v\nwant\n%+v", got, want)
	}

	// A merge: a MAC moves from K-10 to k-1, K-10 moves room, K-3 is new;
	// the rest stay as they were.
	upd := []model.Asset{
		{Tag: "K-10", Type: model.AssetPC, Serial: "PF3", MACs: []string{"aa:bb:cc:dd:ee:01"}, Room: "3.01"},
		{Tag: "k-1", Type: model.AssetPrinter, MACs: []string{"AA:BB:CC:DD:EE:02"}},
		{Tag: "K-3", Type: model.AssetLaptop},
	}
	ch, err = st.ImportAssets(ctx, upd, false, "ola", t2)
	must(t, "ImportAssets(merge)", err)
	if want := (model.RegisterChange{Added: 1, Updated: 2}); ch != want {
		t.Errorf("ImportAssets(merge) = %+v, want %+v", ch, want)
	}
	want = []model.Asset{
		stampedAsset(upd[0], []string{"aa:bb:cc:dd:ee:01"}, model.AssetActive, "ola", t2),
		want[1],
		stampedAsset(upd[2], nil, model.AssetActive, "ola", t2),
		stampedAsset(upd[1], []string{"aa:bb:cc:dd:ee:02"}, model.AssetActive, "ola", t2),
		want[3],
	}
	if got := assets(t, st); !reflect.DeepEqual(got, want) {
		t.Fatalf("Assets after a merge =\n%+v\nwant\n%+v", got, want)
	}
	es = auditSince(t, st, seq)
	assetAudit(t, "merge", normAudit(es), "ola", t2, map[string][]string{"asset.update k-1": {"aa:bb:cc:dd:ee:02"}},
		"asset.update K-10", "asset.update k-1", "asset.add K-3")
	for _, e := range es {
		if e.Action+" "+e.Subject != "asset.update K-10" {
			continue
		}
		var d struct{ Before, After struct{ Room string } }
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil || d.Before.Room != "2.14" || d.After.Room != "3.01" {
			t.Errorf("audit of K-10's move: detail %s (%v), want room 2.14 before and 3.01 after", e.Detail, err)
		}
	}

	// A replace keeps K-10 as it is, changes Ø-1 to take k-1's MAC, and
	// removes the rest.
	seq = lastAuditSeq(t, st)
	t3 := at(3 * time.Hour)
	repl := []model.Asset{upd[0], {Tag: "Ø-1", Type: model.AssetPhone, MACs: []string{"aa:bb:cc:dd:ee:02"}}}
	ch, err = st.ImportAssets(ctx, repl, true, "admin", t3)
	must(t, "ImportAssets(replace)", err)
	if want := (model.RegisterChange{Updated: 1, Removed: 3, Unchanged: 1}); ch != want {
		t.Errorf("ImportAssets(replace) = %+v, want %+v", ch, want)
	}
	want = []model.Asset{want[0], stampedAsset(repl[1], []string{"aa:bb:cc:dd:ee:02"}, model.AssetActive, "admin", t3)}
	if got := assets(t, st); !reflect.DeepEqual(got, want) {
		t.Fatalf("Assets after a replace =\n%+v\nwant\n%+v", got, want)
	}
	assetAudit(t, "replace", normAudit(auditSince(t, st, seq)), "admin", t3,
		map[string][]string{"asset.remove K-2": {"aa:bb:cc:dd:ee:03"}, "asset.remove k-1": {"aa:bb:cc:dd:ee:02"}},
		"asset.update Ø-1", "asset.remove K-2", "asset.remove K-3", "asset.remove k-1")

	// The removed K-2's MAC is free again.
	ch, err = st.ImportAssets(ctx, []model.Asset{{Tag: "K-5", Type: model.AssetSwitch, MACs: []string{"aa:bb:cc:dd:ee:03"}}}, false, "admin", t3)
	must(t, "ImportAssets(a removed asset's MAC)", err)
	if want := (model.RegisterChange{Added: 1}); ch != want {
		t.Errorf("ImportAssets(a removed asset's MAC) = %+v, want %+v", ch, want)
	}

	// DeleteAsset removes one asset with its MACs, audited.
	seq = lastAuditSeq(t, st)
	t4 := at(4 * time.Hour)
	must(t, "DeleteAsset(K-10)", st.DeleteAsset(ctx, "K-10", "ola", t4))
	wantErr(t, "DeleteAsset(K-10 again)", st.DeleteAsset(ctx, "K-10", "ola", t4), model.ErrNotFound)
	wantErr(t, "DeleteAsset(unknown)", st.DeleteAsset(ctx, "nope", "ola", t4), model.ErrNotFound)
	assetAudit(t, "delete", normAudit(auditSince(t, st, seq)), "ola", t4, map[string][]string{"asset.remove K-10": {"aa:bb:cc:dd:ee:01"}},
		"asset.remove K-10")
	if got, want := assetTags(assets(t, st)), []string{"K-5", "Ø-1"}; !slices.Equal(got, want) {
		t.Errorf("Assets after DeleteAsset(K-10) = %q, want %q", got, want)
	}
	// Its MAC went with it.
	_, err = st.ImportAssets(ctx, []model.Asset{{Tag: "K-6", Type: model.AssetPC, MACs: []string{"aa:bb:cc:dd:ee:01"}}}, false, "ola", t4)
	must(t, "ImportAssets(a deleted asset's MAC)", err)
}

func testAssetRefused(t *testing.T, st model.Store) {
	ctx := t.Context()
	t1 := at(time.Hour)
	base := []model.Asset{{Tag: "K-1", Type: model.AssetPC, MACs: []string{"aa:bb:cc:dd:ee:01"}}}
	_, err := st.ImportAssets(ctx, base, false, "kari", t1)
	must(t, "ImportAssets(K-1)", err)
	seq := lastAuditSeq(t, st)
	before := assets(t, st)
	for _, tc := range []struct {
		name    string
		in      []model.Asset
		replace bool
		want    error
		mention []string
	}{
		{"repeated tag", []model.Asset{{Tag: "K-2", Type: model.AssetPC}, {Tag: "K-2", Type: model.AssetPC}}, false, model.ErrConflict, []string{"K-2"}},
		{"MAC on two assets", []model.Asset{{Tag: "K-2", Type: model.AssetPC, MACs: []string{"02:00:00:00:00:01"}},
			{Tag: "K-3", Type: model.AssetPC, MACs: []string{"02-00-00-00-00-01"}}}, false, model.ErrConflict, []string{"K-2", "K-3"}},
		{"MAC of a kept asset", []model.Asset{{Tag: "K-2", Type: model.AssetPC, MACs: []string{"AA:BB:CC:DD:EE:01"}}}, false, model.ErrConflict,
			[]string{"K-1", "K-2", "aa:bb:cc:dd:ee:01"}},
		{"no tag", []model.Asset{{Tag: "K-2", Type: model.AssetPC}, {Type: model.AssetPC}}, false, model.ErrInvalid, nil},
		{"bad type", []model.Asset{{Tag: "K-2", Type: "tablet"}}, true, model.ErrInvalid, []string{"K-2", "tablet"}},
		{"bad status", []model.Asset{{Tag: "K-2", Type: model.AssetPC, Status: "lost"}}, true, model.ErrInvalid, []string{"K-2", "lost"}},
		{"bad MAC", []model.Asset{{Tag: "K-2", Type: model.AssetPC, MACs: []string{"zz:bb:cc:dd:ee:01"}}}, true, model.ErrInvalid, []string{"K-2", "zz:bb"}},
	} {
		_, err := st.ImportAssets(ctx, tc.in, tc.replace, "ola", at(2*time.Hour))
		if !errors.Is(err, tc.want) {
			t.Errorf("ImportAssets(%s) = %v, want %v", tc.name, err, tc.want)
			continue
		}
		for _, m := range tc.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("ImportAssets(%s) = %q, does not name %s", tc.name, err, m)
			}
		}
	}
	if got := assets(t, st); !reflect.DeepEqual(got, before) {
		t.Errorf("Assets after refused imports =\n%+v\nwant\n%+v", got, before)
	}
	if es := auditSince(t, st, seq); len(es) != 0 {
		t.Errorf("refused imports audited %q", auditActions(es))
	}
	// With replace, K-1 goes, so its MAC may pass to K-2 in the same import.
	ch, err := st.ImportAssets(ctx, []model.Asset{{Tag: "K-2", Type: model.AssetPC, MACs: []string{"aa:bb:cc:dd:ee:01"}}}, true, "ola", at(2*time.Hour))
	must(t, "ImportAssets(replace passing a MAC on)", err)
	if want := (model.RegisterChange{Added: 1, Removed: 1}); ch != want {
		t.Errorf("ImportAssets(replace passing a MAC on) = %+v, want %+v", ch, want)
	}
	if got := assets(t, st); len(got) != 1 || got[0].Tag != "K-2" || !slices.Equal(got[0].MACs, []string{"aa:bb:cc:dd:ee:01"}) {
		t.Errorf("Assets after passing a MAC on = %+v, want K-2 alone with aa:bb:cc:dd:ee:01", got)
	}
}
