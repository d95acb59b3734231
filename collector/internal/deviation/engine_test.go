package deviation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// fakeStore keeps media events, the register, the policy, hosts and what
// RecordFindings stored, in memory.
type fakeStore struct {
	mu       sync.Mutex
	events   []model.MediaEvent
	flows    []model.FlowHour
	register []model.MediaEntry
	policy   wire.Policy
	hosts    map[string]model.HostSummary

	err      error // RecordFindings fails with it while set
	noMark   bool  // RecordFindings "forgets" to mark events judged
	recorded []model.NewDeviation
	calls    int // RecordFindings calls that stored
	open     map[string]string
	nextID   int
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		policy: wire.Policy{Version: 3, Media: &wire.MediaPolicy{Mode: wire.MediaModeAudit, LabelPattern: "NK-*"}},
		hosts:  map[string]model.HostSummary{},
		open:   map[string]string{},
	}
}

func (s *fakeStore) add(agentID string, seq uint64, ev wire.MediaEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, model.MediaEvent{ID: int64(len(s.events) + 1), AgentID: agentID, Hostname: "host-" + agentID,
		Seq: seq, At: time.Date(2026, 3, 2, 9, 0, int(seq), 0, time.UTC), Event: ev})
}

func (s *fakeStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *fakeStore) pending() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for _, e := range s.events {
		if !e.Evaluated {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func (s *fakeStore) findings() []model.NewDeviation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recorded)
}

func (s *fakeStore) PendingMedia(ctx context.Context, limit int) ([]model.MediaEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit <= 0 {
		return nil, model.ErrInvalid
	}
	var out []model.MediaEvent
	for _, e := range s.events {
		if !e.Evaluated && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *fakeStore) PendingFlows(ctx context.Context, limit int) ([]model.FlowHour, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit <= 0 {
		return nil, model.ErrInvalid
	}
	var out []model.FlowHour
	for _, f := range s.flows {
		if !f.Evaluated && len(out) < limit {
			out = append(out, f)
		}
	}
	return out, nil
}

func (s *fakeStore) MediaRegister(ctx context.Context) ([]model.MediaEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.register), nil
}

func (s *fakeStore) CurrentPolicy(ctx context.Context) (wire.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy, nil
}

func (s *fakeStore) GetHost(ctx context.Context, agentID string) (model.HostSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hosts[agentID]
	if !ok {
		return model.HostSummary{}, fmt.Errorf("host %s: %w", agentID, model.ErrNotFound)
	}
	return h, nil
}

func (s *fakeStore) RecordFindings(ctx context.Context, fs []model.NewDeviation, judged model.Judged, now time.Time) ([]model.RecordResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	for _, f := range fs {
		if f.Rule == "" || f.Subject == "" || !rules.ValidSeverity(f.Severity) {
			return nil, model.ErrInvalid
		}
	}
	var res []model.RecordResult
	for _, f := range fs {
		k := f.Rule + " " + f.Subject
		id, ok := s.open[k]
		if !ok {
			s.nextID++
			id = fmt.Sprintf("AVVIK-%d-%d", now.Year(), s.nextID)
			s.open[k] = id
		}
		res = append(res, model.RecordResult{ID: id, Created: !ok})
	}
	s.recorded = append(s.recorded, fs...)
	s.calls++
	if !s.noMark {
		for i := range s.events {
			if slices.Contains(judged.Media, s.events[i].ID) {
				s.events[i].Evaluated = true
			}
		}
		for i := range s.flows {
			if slices.Contains(judged.Flows, s.flows[i].ID) {
				s.flows[i].Evaluated = true
			}
		}
	}
	return res, nil
}

var _ Store = (*fakeStore)(nil)

func stick(serial, label string, marked bool) wire.MediaDevice {
	v := wire.MediaVolume{Name: "sdb1", FSType: "vfat", Label: label, Encrypted: "no", MarkingChecked: true}
	if marked {
		v.Marking = &wire.MediaMarking{Source: wire.MarkingLabel, ID: label}
	}
	return wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb", VID: "0781", PID: "5583", Serial: serial,
		Product: "Ultra Fit", Volumes: []wire.MediaVolume{v}}
}

func add(d wire.MediaDevice) wire.MediaEvent {
	return wire.MediaEvent{Action: wire.MediaAdd, Device: d,
		Decision: &wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault, Mode: wire.MediaModeAudit}}
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var fixedNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestEvaluate(t *testing.T) {
	st := newFakeStore()
	st.register = []model.MediaEntry{
		{VID: "0781", PID: "5583", Serial: "REG1", OwnerUnit: "oppvekst"},
		{VID: "0781", PID: "5583", Serial: "REG2", OwnerUnit: "helse", EncryptionRequired: true},
	}
	st.add("a1", 1, add(stick("FOREIGN", "PRIVATE", false)))                                               // unknown and unmarked
	st.add("a1", 2, add(stick("REG1", "NK-0001", true)))                                                   // registered, marked: nothing
	st.add("a1", 3, wire.MediaEvent{Action: wire.MediaRemove, Device: stick("FOREIGN", "PRIVATE", false)}) // nothing
	st.add("a2", 1, add(stick("REG2", "NK-0002", true)))                                                   // registered, not encrypted as required
	var changes [][]model.RecordResult
	e := New(Config{Store: st, Now: func() time.Time { return fixedNow },
		Rules:    rules.Config{rules.UnknownMedia: {Severity: model.SeverityLow}},
		Due:      map[string]time.Duration{model.SeverityLow: 48 * time.Hour},
		OnChange: func(r []model.RecordResult) { changes = append(changes, r) }})
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p := st.pending(); len(p) != 0 {
		t.Errorf("pending after Evaluate: %v", p)
	}
	fs := st.findings()
	type short struct{ rule, subject string }
	var got []short
	for _, f := range fs {
		got = append(got, short{f.Rule, f.Subject})
	}
	want := []short{
		{rules.UnknownMedia, "media:0781:5583:FOREIGN"},
		{rules.UnmarkedMedia, "media:0781:5583:FOREIGN"},
		{rules.UnmarkedMedia, "media:0781:5583:REG2"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	seen := time.Date(2026, 3, 2, 9, 0, 1, 0, time.UTC)
	if f := fs[0]; f.Severity != model.SeverityLow || !f.DueAt.Equal(seen.Add(48*time.Hour)) || !f.BreachDue.IsZero() ||
		!slices.Equal(f.Assignees, []string{"role:sikkerhet"}) || f.AgentID != "a1" || !strings.Contains(f.Title, "host-a1") {
		t.Errorf("unknown-media: %+v", f)
	}
	if f := fs[1]; f.Severity != model.SeverityHigh || !f.DueAt.Equal(seen.Add(72*time.Hour)) || !f.BreachDue.Equal(seen.Add(72*time.Hour)) || !f.PersonalData {
		t.Errorf("unmarked-media: %+v", f)
	}
	if f := fs[2]; !slices.Equal(f.Assignees, []string{"role:sikkerhet", "unit:helse:leder"}) || f.Facts[rules.FactConditions] != rules.CondUnencryptedRequire {
		t.Errorf("unmarked-media of a registered medium: %+v", f)
	}
	if len(changes) != 1 || len(changes[0]) != 3 || !changes[0][0].Created {
		t.Errorf("OnChange got %+v", changes)
	}

	// Nothing pending: nothing stored, nothing announced.
	if err := e.Evaluate(t.Context()); err != nil || st.calls != 1 || len(changes) != 1 {
		t.Errorf("idle Evaluate = %v; %d store calls, %d changes", err, st.calls, len(changes))
	}
}

func TestEvaluateZones(t *testing.T) {
	tab, err := zone.NewTable([]zone.Zone{
		{Name: "kontor", Level: zone.Internal, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{Name: "helse", Level: zone.Sensitive, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := newFakeStore()
	st.register = []model.MediaEntry{{VID: "0781", PID: "5583"}} // every serial of the model
	st.hosts["nurse"] = model.HostSummary{Facts: &wire.Host{Interfaces: []wire.Interface{
		{Name: "eth0", Addrs: []string{"10.1.2.3/16", "fe80::1/64"}},
		{Name: "eth1", Addrs: []string{"10.20.5.6/24"}},
	}}}
	st.hosts["clerk"] = model.HostSummary{Facts: &wire.Host{Interfaces: []wire.Interface{{Name: "eth0", Addrs: []string{"10.1.9.9/16"}}}}}
	st.hosts["nofacts"] = model.HostSummary{}
	for i, agent := range []string{"nurse", "clerk", "nofacts", "unknown-agent", "nurse"} {
		st.add(agent, uint64(i+1), add(stick(fmt.Sprint("S", i), "NK-1", true)))
	}
	e := New(Config{Store: st, Zones: tab})
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range st.findings() {
		got = append(got, f.AgentID+" "+f.Rule+" "+f.Facts["zone"])
	}
	want := []string{
		"nurse unmarked-media helse (sensitive)",
		"nurse unmarked-media helse (sensitive)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if p := st.pending(); len(p) != 0 {
		t.Errorf("pending %v", p)
	}
}

func TestEvaluateChunks(t *testing.T) {
	st := newFakeStore()
	for i := range 7 {
		st.add("a1", uint64(i+1), add(stick(fmt.Sprint("S", i), "NK-1", true)))
	}
	e := New(Config{Store: st, Batch: 3})
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.calls != 3 || len(st.pending()) != 0 || len(st.findings()) != 7 {
		t.Errorf("%d store calls, pending %v, %d findings; want 3 calls, none pending, 7 findings", st.calls, st.pending(), len(st.findings()))
	}
}

func TestEvaluateStoreError(t *testing.T) {
	st := newFakeStore()
	st.add("a1", 1, add(stick("X", "PRIVATE", false)))
	st.setErr(errors.New("disk I/O error"))
	e := New(Config{Store: st})
	if err := e.Evaluate(t.Context()); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("Evaluate = %v, want the store's error", err)
	}
	if p := st.pending(); !slices.Equal(p, []int64{1}) {
		t.Fatalf("pending after a failed store: %v, want [1]", p)
	}
	st.setErr(nil)
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p := st.pending(); len(p) != 0 || len(st.findings()) != 2 {
		t.Errorf("after recovery: pending %v, %d findings", p, len(st.findings()))
	}
}

func TestEvaluateStopsOnAStoreThatDoesNotMark(t *testing.T) {
	st := newFakeStore()
	for i := range 4 {
		st.add("a1", uint64(i+1), add(stick(fmt.Sprint("S", i), "NK-1", true)))
	}
	st.noMark = true
	e := New(Config{Store: st, Batch: 2})
	if err := e.Evaluate(t.Context()); err == nil || !strings.Contains(err.Error(), "still pending") {
		t.Errorf("Evaluate = %v, want an error", err)
	}
	if st.calls != 1 {
		t.Errorf("%d store calls, want 1", st.calls)
	}
}

// TestRun runs the loop in a bubble with a fake clock: it picks up what was
// pending at start, a wake is served without waiting for the timer, and a
// store error is retried at the next tick.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		st.add("a1", 1, add(stick("LEFT-BY-A-CRASH", "NK-1", true)))
		changes := make(chan []model.RecordResult, 16)
		var logs logBuffer
		e := New(Config{Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			OnChange: func(r []model.RecordResult) { changes <- r }})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			e.Run(ctx)
			close(done)
		}()
		start := time.Now()

		synctest.Wait()
		if p := st.pending(); len(p) != 0 || len(changes) != 1 {
			t.Fatalf("at start: pending %v, %d changes", p, len(changes))
		}
		<-changes

		// A wake is served at once.
		st.add("a1", 2, add(stick("NEW", "NK-1", true)))
		e.Wake()
		e.Wake() // merged with the first
		synctest.Wait()
		if p := st.pending(); len(p) != 0 {
			t.Fatalf("after a wake: pending %v", p)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the wake was served after %v", d)
		}
		<-changes

		// A failing store leaves the event pending; wakes wait for the tick.
		st.setErr(errors.New("database is locked"))
		st.add("a1", 3, add(stick("THIRD", "NK-1", true)))
		e.Wake()
		synctest.Wait()
		if p := st.pending(); !slices.Equal(p, []int64{3}) {
			t.Fatalf("after a failure: pending %v, want [3]", p)
		}
		if !strings.Contains(logs.String(), "database is locked") {
			t.Errorf("the failure was not logged: %s", logs.String())
		}
		st.setErr(nil)
		e.Wake()
		synctest.Wait()
		if p := st.pending(); !slices.Equal(p, []int64{3}) {
			t.Errorf("a wake right after a failure retried at once: pending %v", p)
		}
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if p := st.pending(); len(p) != 0 {
			t.Fatalf("after the tick: pending %v", p)
		}
		if got := <-changes; len(got) != 1 || !got[0].Created {
			t.Errorf("changes after the retry: %+v", got)
		}

		cancel()
		<-done
	})
}

func TestRoute(t *testing.T) {
	f := model.Finding{Rule: rules.UnknownMedia, Subject: "media:x"}
	if got := Route(f, ""); !slices.Equal(got, []string{"role:sikkerhet"}) {
		t.Errorf("Route(no unit) = %v", got)
	}
	if got := Route(f, "helse"); !slices.Equal(got, []string{"role:sikkerhet", "unit:helse:leder"}) {
		t.Errorf("Route(helse) = %v", got)
	}
}

func TestSLA(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := NewSLA(map[string]time.Duration{model.SeverityHigh: 48 * time.Hour, model.SeverityLow: 0})
	for _, c := range []struct {
		sev  string
		want time.Duration
	}{
		{model.SeverityCritical, 24 * time.Hour},
		{model.SeverityHigh, 48 * time.Hour},
		{model.SeverityMedium, 14 * 24 * time.Hour},
		{model.SeverityLow, 30 * 24 * time.Hour}, // 0 keeps the default
	} {
		if got := s.Due(c.sev, at); !got.Equal(at.Add(c.want)) {
			t.Errorf("Due(%s) = %v, want %v", c.sev, got, at.Add(c.want))
		}
	}
	if got := s.Due("urgent", at); !got.IsZero() {
		t.Errorf("Due(urgent) = %v", got)
	}
	if got := (SLA(nil)).Due(model.SeverityHigh, at); !got.Equal(at.Add(72 * time.Hour)) {
		t.Errorf("nil SLA Due(high) = %v", got)
	}
	if DefaultDue[model.SeverityHigh] != 72*time.Hour {
		t.Error("NewSLA changed DefaultDue")
	}

	now := at.Add(time.Hour)
	d := Open(model.Finding{Severity: model.SeverityHigh, PersonalData: true}, "", s, now) // no At: from now
	if !d.DueAt.Equal(now.Add(48*time.Hour)) || !d.BreachDue.Equal(now.Add(72*time.Hour)) {
		t.Errorf("Open without At: due %v, breach %v", d.DueAt, d.BreachDue)
	}
	d = Open(model.Finding{Severity: model.SeverityMedium, At: at}, "oppvekst", s, now)
	if !d.DueAt.Equal(at.Add(14*24*time.Hour)) || !d.BreachDue.IsZero() || len(d.Assignees) != 2 {
		t.Errorf("Open: %+v", d)
	}
}

func TestHostAddrs(t *testing.T) {
	h := &wire.Host{Interfaces: []wire.Interface{
		{Name: "eth0", Addrs: []string{"10.1.2.3/24", "fe80::1%eth0/64", "garbage"}},
		{Name: "wlan0", Addrs: []string{"192.168.1.5"}},
	}}
	var got []string
	for _, a := range HostAddrs(h) {
		got = append(got, a.String())
	}
	if want := []string{"10.1.2.3", "fe80::1", "192.168.1.5"}; !slices.Equal(got, want) {
		t.Errorf("HostAddrs = %v, want %v", got, want)
	}
	if HostAddrs(nil) != nil {
		t.Error("HostAddrs(nil) is not nil")
	}
}

// flowZones is the zones file of the flow tests.
const flowZones = `
zones:
  - name: kontor
    kind: internal
    prefixes: [10.1.0.0/16]
  - name: skole
    kind: internal
    prefixes: [172.16.0.0/12]
  - name: helse
    kind: sensitive
    purpose: Helse og omsorg
    prefixes: [10.20.0.0/16]
firewall:
  - id: web
    from: kontor
    to: external
    proto: tcp
    ports: [443]
    justification: Nettlesing via proxy
    owner: drift
  - id: journal
    from: kontor
    to: helse
    proto: tcp
    ports: [443]
    justification: Journalsystemet
    owner: helse
`

// sqliteStore opens a real SQLite store in the test's directory with agents
// enrolled under the given ids, each with the hostname "host-<id>" and one
// interface at 10.1.0.<n> (zone kontor).
func sqliteStore(t *testing.T, agents ...string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i, id := range agents {
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		if err := db.CreateAgent(t.Context(), model.Agent{ID: id, Fingerprint: "fp-" + id, Hostname: "host-" + id,
			CertSerial: "01", CertNotAfter: at.AddDate(1, 0, 0), EnrolledAt: at}); err != nil {
			t.Fatal(err)
		}
		host := &wire.Host{Hostname: "host-" + id, Interfaces: []wire.Interface{{Name: "eth0", Addrs: []string{fmt.Sprintf("10.1.0.%d/16", i+1)}}}}
		if _, err := db.Ingest(t.Context(), model.IngestBatch{AgentID: id, ReceivedAt: at, Facts: host, FactsAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// ingestFlows stores one flows record of the interval starting at start,
// with seq seq, for agent id.
func ingestFlows(t *testing.T, db *sqlstore.DB, id string, seq uint64, start time.Time, flows ...wire.Flow) {
	t.Helper()
	body := wire.Flows{Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Source: "capture:eth0", Flows: flows}
	r, err := wire.NewRecord(wire.KindFlows, start.Add(time.Minute), body)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = seq
	res, err := db.Ingest(t.Context(), model.IngestBatch{AgentID: id, ReceivedAt: start.Add(time.Minute), Records: []wire.Record{r},
		Flows: []model.FlowRecord{{Seq: seq, At: start.Add(time.Minute), Flows: body}}})
	if err != nil || res.Flows != len(flows) {
		t.Fatalf("Ingest(%d flows) = %+v, %v", len(flows), res, err)
	}
}

// crossFlow is a flow from src to dst, in the zones the agent named.
func crossFlow(src, dst string, dport uint16, srcZone, dstZone string, at time.Time) wire.Flow {
	return wire.Flow{Proto: wire.ProtoTCP, Src: src, Dst: dst, SPort: 50000, DPort: dport, SrcZone: srcZone, DstZone: dstZone,
		Packets: 10, Bytes: 1200, First: at.UnixNano(), Last: at.Add(time.Second).UnixNano(), Verdict: wire.VerdictDenied}
}

func openDeviations(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	ds, err := db.ListDeviations(t.Context(), model.DeviationQuery{Status: "open", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s %s %d pd=%v", d.Rule, d.Subject, d.Count, d.PersonalData))
	}
	slices.Sort(out)
	return out
}

func TestEvaluateFlows(t *testing.T) {
	m, err := zone.Parse("zones.yaml", []byte(flowZones))
	if err != nil {
		t.Fatal(err)
	}
	db := sqliteStore(t, "pc", "ts")
	h0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := h0.Add(2 * time.Hour)
	var changes int
	e := New(Config{Store: db, ZoneMap: m, SharedSolutions: func() map[string]bool { return map[string]bool{"host-ts": true} }, Now: func() time.Time { return now },
		Batch: 2, OnChange: func(rs []model.RecordResult) { changes += len(rs) }})

	// pc: web (allowed), the journal (allowed), journal over http (denied),
	// and a school share (no rule): two cross-zone-flow findings and, as it
	// reaches helse and skole, shared-solution.
	flows := []wire.Flow{
		crossFlow("10.1.0.1", "192.0.2.1", 443, "kontor", "external", h0),
		crossFlow("10.1.0.1", "10.20.0.9", 443, "kontor", "helse", h0),
		crossFlow("10.1.0.1", "10.20.0.9", 80, "kontor", "helse", h0),
		crossFlow("10.1.0.1", "172.16.0.5", 445, "kontor", "skole", h0),
	}
	ingestFlows(t, db, "pc", 1, h0, flows...)
	// ts, a registered shared solution, does the same: cross-zone-flow
	// fires for its flows, shared-solution does not.
	ingestFlows(t, db, "ts", 1, h0, crossFlow("10.1.0.2", "10.20.0.9", 80, "kontor", "helse", h0),
		crossFlow("10.1.0.2", "172.16.0.5", 445, "kontor", "skole", h0))
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cross-zone-flow flow:pc:kontor>helse:tcp/80 1 pd=true",
		"cross-zone-flow flow:pc:kontor>skole:tcp/445 1 pd=false",
		"cross-zone-flow flow:ts:kontor>helse:tcp/80 1 pd=true",
		"cross-zone-flow flow:ts:kontor>skole:tcp/445 1 pd=false",
		"shared-solution shared:pc 1 pd=true",
	}
	if got := openDeviations(t, db); !slices.Equal(got, want) {
		t.Errorf("deviations after the first hour =\n%q\nwant\n%q", got, want)
	}
	if p, err := db.PendingFlows(t.Context(), 10); err != nil || len(p) != 0 {
		t.Errorf("PendingFlows after Evaluate = %d rows, %v; want none", len(p), err)
	}
	if changes != 5 {
		t.Errorf("OnChange saw %d results, want 5", changes)
	}

	// The deviation of the journal over http: routed to the security
	// officer, its breach clock running from the flow's last packet.
	ds, err := db.ListDeviations(t.Context(), model.DeviationQuery{Subject: "flow:pc:kontor>helse:tcp/80", Limit: 1})
	if err != nil || len(ds) != 1 {
		t.Fatalf("ListDeviations(journal over http) = %v, %v", ds, err)
	}
	last := h0.Add(time.Second)
	d := ds[0]
	if !slices.Equal(d.Assignees, []string{SecurityOfficer}) || !d.BreachDue.Equal(last.Add(BreachWindow)) ||
		!d.DueAt.Equal(last.Add(72*time.Hour)) || d.Facts["process"] != "" || d.Facts["dst_zone"] != "helse (sensitive)" ||
		len(d.Evidence) != 1 || d.Evidence[0] != (model.EvidenceRef{AgentID: "pc", Seq: 1, Kind: "flows"}) {
		t.Errorf("journal over http: %+v", d)
	}

	// The next hour, the same flow again: an occurrence, nothing new.
	ingestFlows(t, db, "pc", 2, h0.Add(time.Hour), crossFlow("10.1.0.1", "10.20.0.9", 80, "kontor", "helse", h0.Add(time.Hour)))
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	want[0] = "cross-zone-flow flow:pc:kontor>helse:tcp/80 2 pd=true"
	if got := openDeviations(t, db); !slices.Equal(got, want) {
		t.Errorf("deviations after the second hour =\n%q\nwant\n%q", got, want)
	}
	// More packets in an hour already judged: not judged again.
	ingestFlows(t, db, "pc", 3, h0.Add(time.Hour), crossFlow("10.1.0.1", "10.20.0.9", 80, "kontor", "helse", h0.Add(time.Hour)))
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := openDeviations(t, db); !slices.Equal(got, want) {
		t.Errorf("deviations after a judged hour grew =\n%q\nwant\n%q", got, want)
	}
}

func TestEvaluateFlowsWithoutMap(t *testing.T) {
	db := sqliteStore(t, "pc")
	h0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ingestFlows(t, db, "pc", 1, h0, crossFlow("10.1.0.1", "10.20.0.9", 80, "kontor", "helse", h0),
		crossFlow("10.1.0.1", "172.16.0.5", 445, "kontor", "skole", h0))
	e := New(Config{Store: db})
	if err := e.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := openDeviations(t, db); len(got) != 0 {
		t.Errorf("deviations without a zones file = %q, want none", got)
	}
	if p, err := db.PendingFlows(t.Context(), 10); err != nil || len(p) != 0 {
		t.Errorf("PendingFlows = %d rows, %v; want none: judged, though nothing fired", len(p), err)
	}
}

func TestEvaluateFlowsStopsOnAStoreThatDoesNotMark(t *testing.T) {
	st := newFakeStore()
	st.noMark = true
	for i := range 3 {
		st.flows = append(st.flows, model.FlowHour{ID: int64(i + 1), AgentID: "a1", Src: "10.1.0.1", Dst: "10.20.0.9",
			Proto: wire.ProtoTCP, DPort: 80, SrcZone: "kontor", DstZone: "helse"})
	}
	e := New(Config{Store: st, Batch: 2})
	err := e.Evaluate(t.Context())
	if err == nil || !strings.Contains(err.Error(), "hourly flow 1 is still pending") {
		t.Errorf("Evaluate = %v, want a stop at hourly flow 1", err)
	}
	if st.calls != 1 {
		t.Errorf("%d RecordFindings calls, want 1", st.calls)
	}
}

// TestEvaluateZonesFromMap places hosts by the zones file's zones when no
// separate table is given, as the collector wires it.
func TestEvaluateZonesFromMap(t *testing.T) {
	m, err := zone.Parse("zones.yaml", []byte(flowZones))
	if err != nil {
		t.Fatal(err)
	}
	st := newFakeStore()
	st.register = []model.MediaEntry{{VID: "0781", PID: "5583"}}
	st.hosts["nurse"] = model.HostSummary{Facts: &wire.Host{Interfaces: []wire.Interface{{Name: "eth0", Addrs: []string{"10.20.5.6/16"}}}}}
	st.hosts["clerk"] = model.HostSummary{Facts: &wire.Host{Interfaces: []wire.Interface{{Name: "eth0", Addrs: []string{"10.1.9.9/16"}}}}}
	st.add("nurse", 1, add(stick("S1", "NK-1", true)))
	st.add("clerk", 2, add(stick("S2", "NK-2", true)))
	if err := New(Config{Store: st, ZoneMap: m}).Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range st.findings() {
		got = append(got, f.AgentID+" "+f.Rule+" "+f.Facts["zone"])
	}
	if want := []string{"nurse unmarked-media helse (sensitive)"}; !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}
