package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// recordStore is the fake store with an agent's raw records, as the SQL
// store has them.
type recordStore struct {
	*fakeStore
	recs  []wire.Record
	after []uint64 // the after of each call
}

func (r *recordStore) Records(_ context.Context, agentID string, after uint64, limit int) ([]wire.Record, error) {
	r.after = append(r.after, after)
	var out []wire.Record
	for _, rec := range r.recs {
		if rec.Seq > after && len(out) < limit {
			out = append(out, rec)
		}
	}
	return out, nil
}

func healthRecord(t *testing.T, seq uint64, h wire.Health) wire.Record {
	t.Helper()
	r, err := wire.NewRecord(wire.KindHealth, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), h)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = seq
	return r
}

// The host page shows the agent's resource guard from its newest health
// record: CPU and memory against budget, what is over, which sensors are
// slowed and by how much.
func TestHostPageResourceGuard(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.addUser(t, "kari", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "kari", "hemmelig-passord")

	old := healthRecord(t, 12000, wire.Health{CPUPercent: 1, CPUBudget: 5, MemoryBudget: 150 << 20,
		Sensors: []wire.SensorStatus{{Name: "sockets", State: "throttled", Slowdown: 16, Reason: "old"}}})
	newest := healthRecord(t, 12340, wire.Health{CPUPercent: 12.5, CPUBudget: 5, RSSBytes: 40 << 20, MemoryBudget: 150 << 20,
		OverBudget: []string{"cpu"},
		Sensors: []wire.SensorStatus{
			{Name: "inventory", State: "throttled", Slowdown: 4, Reason: "sensor uses 20.0% of a core, over its budget of 5.0%"},
			{Name: "media", State: "running"},
		}})
	flows, err := wire.NewRecord(wire.KindFlows, time.Now(), wire.Flows{})
	if err != nil {
		t.Fatal(err)
	}
	flows.Seq = 12345
	rs := &recordStore{fakeStore: e.store, recs: []wire.Record{old, newest, flows}}
	e.srv.store = rs

	rec := e.get("/hosts/a1b2c3d4e5f60718", sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET host = %d", rec.Code)
	}
	body := rec.Body.String()
	for _, w := range []string{"Ressursvakt", "CPU 12,5 % av én kjerne, budsjett 5,0 %", "over budsjett", "inventory bremset ×4", "over its budget of 5.0%"} {
		if !strings.Contains(body, w) {
			t.Errorf("host page lacks %q", w)
		}
	}
	for _, w := range []string{"sockets bremset", "media bremset"} {
		if strings.Contains(body, w) {
			t.Errorf("host page shows %q, from an older record or a running sensor", w)
		}
	}
	if len(rs.after) != 1 || rs.after[0] != 12345-healthScan {
		t.Errorf("Records called with after %v, want [%d]: the newest %d records", rs.after, 12345-healthScan, healthScan)
	}
	if rec := e.get("/hosts/a1b2c3d4e5f60718?lang=en", sc); !strings.Contains(rec.Body.String(), "inventory slowed ×4") {
		t.Errorf("English host page lacks the slowed sensor")
	}

	// An agent from before the guard (no budgets) shows no guard.
	rs.recs = []wire.Record{healthRecord(t, 12340, wire.Health{CPUPercent: 1})}
	if body := e.get("/hosts/a1b2c3d4e5f60718", sc).Body.String(); strings.Contains(body, "Ressursvakt") {
		t.Errorf("host page shows a resource guard for an agent without one")
	}
	// Nor does a store that keeps no raw records (the fake).
	e.srv.store = e.store
	if body := e.get("/hosts/a1b2c3d4e5f60718", sc).Body.String(); strings.Contains(body, "Ressursvakt") {
		t.Errorf("host page shows a resource guard without health records")
	}
}
