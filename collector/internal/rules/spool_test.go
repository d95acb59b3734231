package rules

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestSpoolDropped(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	in := func(dropped, known uint64, host string) SpoolInput {
		return SpoolInput{AgentID: "a1", Hostname: host, Seq: 42, At: at, Known: known,
			Health: wire.Health{SpoolDropped: dropped, SpoolRecords: 7, SpoolBytes: 4096}}
	}
	for _, tc := range []struct {
		name  string
		in    SpoolInput
		cfg   Config
		fires bool
		new   string
	}{
		{"no drops", in(0, 0, ""), nil, false, ""},
		{"first drops", in(5, 0, "pc-1"), nil, true, "5"},
		{"nothing new since judged", in(5, 5, ""), nil, false, ""},
		{"more drops", in(9, 5, ""), nil, true, "4"},
		{"count below known (spool wiped)", in(2, 5, ""), nil, false, ""},
		{"disabled", in(5, 0, ""), Config{SpoolDrops: {Disabled: true}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := SpoolDropped(tc.in, tc.cfg)
			if ok != tc.fires {
				t.Fatalf("fires = %v, want %v (%+v)", ok, tc.fires, f)
			}
			if !ok {
				return
			}
			r, _ := Lookup(SpoolDrops)
			if f.Rule != SpoolDrops || f.Subject != "spool:a1" || f.AgentID != "a1" || !f.At.Equal(at) ||
				!slices.Equal(f.Refs, []string{"S1.4", "S8.1"}) || f.Severity != r.DefaultSeverity || f.PersonalData {
				t.Errorf("finding %+v", f)
			}
			if f.Facts[FactNewDrops] != tc.new || f.Facts[FactDropped] != strconv.FormatUint(tc.in.Health.SpoolDropped, 10) {
				t.Errorf("facts %v, want new_drops %s", f.Facts, tc.new)
			}
			if f.Facts["spool_records"] != "7" || f.Facts["spool_bytes"] != "4096" {
				t.Errorf("facts %v", f.Facts)
			}
			if !slices.Equal(f.Evidence, []model.EvidenceRef{{AgentID: "a1", Seq: 42, Kind: "health"}}) {
				t.Errorf("evidence %v", f.Evidence)
			}
			if !strings.Contains(f.Title, "dropped "+tc.new+" unsent records") {
				t.Errorf("title %q", f.Title)
			}
			if tc.in.Hostname != "" && (f.Facts["hostname"] != tc.in.Hostname || !strings.Contains(f.Title, tc.in.Hostname)) {
				t.Errorf("hostname missing: facts %v, title %q", f.Facts, f.Title)
			}
			for k, v := range f.Facts {
				if v == "" {
					t.Errorf("empty fact %q", k)
				}
			}
		})
	}
	// A configured severity applies.
	f, _ := SpoolDropped(in(1, 0, ""), Config{SpoolDrops: {Severity: model.SeverityHigh}})
	if f.Severity != model.SeverityHigh {
		t.Errorf("severity %q, want high", f.Severity)
	}
	// Titles do not carry an agent-supplied hostname unbounded.
	f, _ = SpoolDropped(in(1, 0, strings.Repeat("h", 5000)), nil)
	if len(f.Title) > 2*maxFact || len(f.Facts["hostname"]) > maxFact+len("…") {
		t.Errorf("title of %d bytes, hostname fact of %d", len(f.Title), len(f.Facts["hostname"]))
	}
}
