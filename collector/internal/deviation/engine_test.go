package deviation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// fakeStore keeps media events, the register, the policy, hosts and what
// RecordFindings stored, in memory.
type fakeStore struct {
	mu       sync.Mutex
	events   []model.MediaEvent
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

func (s *fakeStore) RecordFindings(ctx context.Context, fs []model.NewDeviation, evaluated []int64, now time.Time) ([]model.RecordResult, error) {
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
			if slices.Contains(evaluated, s.events[i].ID) {
				s.events[i].Evaluated = true
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
