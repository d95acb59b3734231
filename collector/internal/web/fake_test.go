package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/inventory"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fakeStore is an in-memory WebStore for unit tests of this package's logic.
// It is not a conformance reference; storetest is.
type fakeStore struct {
	mu       sync.Mutex
	users    map[string]model.User
	sessions map[string]model.Session // by string(IDHash)
	tokens   map[string]model.APIToken
	agents   map[string]model.Agent
	hosts    map[string]model.HostSummary // by agent id; Agent is taken from agents
	audit    []model.AuditEvent
	invs     map[string]fakeInventory           // by agent id
	history  map[string][]model.InventoryChange // by agent id, oldest first
	media    []model.MediaEvent                 // by id, oldest first
	register map[string]model.MediaEntry        // by key
	assets   map[string]model.Asset             // by tag
	swcat    fakeSoftwareCatalog                // fake_software_test.go
	org      fakeOrg                            // fake_org_test.go
	cmap     fakeConfigMap                      // fake_configmap_test.go
	exc      fakeExceptions                     // fake_exceptions_test.go
	devs     map[string]*fakeDeviation          // by id
	enroll   map[string]model.EnrollToken       // by id
	tlSeq    int64

	failAudit  error // when set, AppendAudit returns it
	failStatus error // when set, SetDeviationStatus returns it
}

type fakeDeviation struct {
	d        model.Deviation
	timeline []model.TimelineEvent
}

var _ WebStore = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		users:    make(map[string]model.User),
		sessions: make(map[string]model.Session),
		tokens:   make(map[string]model.APIToken),
		agents:   make(map[string]model.Agent),
		hosts:    make(map[string]model.HostSummary),
		invs:     make(map[string]fakeInventory),
		history:  make(map[string][]model.InventoryChange),
		register: make(map[string]model.MediaEntry),
		assets:   make(map[string]model.Asset),
		devs:     make(map[string]*fakeDeviation),
	}
}

type fakeInventory struct {
	inv wire.Inventory
	at  time.Time
}

func notFound(what, id string) error { return fmt.Errorf("%s %q: %w", what, id, model.ErrNotFound) }

func (f *fakeStore) CreateUser(_ context.Context, u model.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[u.Name]; ok {
		return fmt.Errorf("user %q: %w", u.Name, model.ErrConflict)
	}
	f.users[u.Name] = u
	return nil
}

func (f *fakeStore) GetUser(_ context.Context, name string) (model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[name]
	if !ok {
		return model.User{}, notFound("user", name)
	}
	return u, nil
}

func (f *fakeStore) UpdateUser(_ context.Context, u model.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[u.Name]; !ok {
		return notFound("user", u.Name)
	}
	f.users[u.Name] = u
	return nil
}

func (f *fakeStore) CountUsers(context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.users), nil
}

func (f *fakeStore) CreateSession(_ context.Context, s model.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := string(s.IDHash)
	if _, ok := f.sessions[k]; ok {
		return fmt.Errorf("session: %w", model.ErrConflict)
	}
	s.IDHash = slices.Clone(s.IDHash)
	f.sessions[k] = s
	return nil
}

func (f *fakeStore) GetSession(_ context.Context, idHash []byte) (model.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[string(idHash)]
	if !ok {
		return model.Session{}, notFound("session", "")
	}
	return s, nil
}

func (f *fakeStore) DeleteSession(_ context.Context, idHash []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[string(idHash)]; !ok {
		return notFound("session", "")
	}
	delete(f.sessions, string(idHash))
	return nil
}

func (f *fakeStore) CreateAPIToken(_ context.Context, t model.APIToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tokens[t.ID]; ok {
		return fmt.Errorf("token %q: %w", t.ID, model.ErrConflict)
	}
	f.tokens[t.ID] = t
	return nil
}

func (f *fakeStore) GetAPIToken(_ context.Context, id string) (model.APIToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok {
		return model.APIToken{}, notFound("token", id)
	}
	return t, nil
}

func (f *fakeStore) TouchAPIToken(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok {
		return notFound("token", id)
	}
	t.LastUsed = at
	f.tokens[id] = t
	return nil
}

func (f *fakeStore) ListHosts(context.Context) ([]model.HostSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.HostSummary
	for id, a := range f.agents {
		h := f.hosts[id]
		h.Agent = a
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b model.HostSummary) int { return strings.Compare(a.Hostname, b.Hostname) })
	return out, nil
}

func (f *fakeStore) GetHost(_ context.Context, id string) (model.HostSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return model.HostSummary{}, notFound("agent", id)
	}
	h := f.hosts[id]
	h.Agent = a
	return h, nil
}

func (f *fakeStore) AppendAudit(_ context.Context, e model.AuditEvent) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAudit != nil {
		return 0, f.failAudit
	}
	e.Seq = int64(len(f.audit) + 1)
	f.audit = append(f.audit, e)
	return e.Seq, nil
}

func (f *fakeStore) ListAudit(_ context.Context, after int64, limit int) ([]model.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.AuditEvent
	for _, e := range f.audit {
		if e.Seq > after && (limit <= 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) CreateAgent(_ context.Context, a model.Agent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.agents[a.ID]; ok {
		return fmt.Errorf("agent %q: %w", a.ID, model.ErrConflict)
	}
	f.agents[a.ID] = a
	return nil
}

func (f *fakeStore) GetAgent(_ context.Context, id string) (model.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return model.Agent{}, notFound("agent", id)
	}
	return a, nil
}

func (f *fakeStore) UpdateAgentCert(_ context.Context, id, serial string, notAfter time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return notFound("agent", id)
	}
	a.CertSerial, a.CertNotAfter = serial, notAfter
	f.agents[id] = a
	return nil
}

func (f *fakeStore) RevokeAgent(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return notFound("agent", id)
	}
	a.RevokedAt = at
	f.agents[id] = a
	return nil
}

func (f *fakeStore) ListAgents(context.Context) ([]model.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.Agent
	for _, a := range f.agents {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeStore) AgentsByFingerprint(_ context.Context, fp string) ([]model.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.Agent
	for _, a := range f.agents {
		if a.Fingerprint == fp {
			out = append(out, a)
		}
	}
	return out, nil
}

// addHost stores an agent and its summary.
func (f *fakeStore) addHost(h model.HostSummary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agents[h.ID] = h.Agent
	f.hosts[h.ID] = h
}

// auditEvents returns the audit log so far, in order.
func (f *fakeStore) auditEvents() []model.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.audit)
}

func (f *fakeStore) sessionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

func (f *fakeStore) GetInventory(_ context.Context, id string) (wire.Inventory, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.invs[id]
	if !ok {
		return wire.Inventory{}, time.Time{}, notFound("inventory", id)
	}
	return x.inv, x.at, nil
}

func (f *fakeStore) InventoryHistory(_ context.Context, id string, limit int) ([]model.InventoryChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if limit <= 0 {
		return nil, fmt.Errorf("limit %d: %w", limit, model.ErrInvalid)
	}
	if _, ok := f.agents[id]; !ok {
		return nil, notFound("agent", id)
	}
	h := f.history[id]
	var out []model.InventoryChange
	for i := len(h) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, h[i])
	}
	return out, nil
}

func (f *fakeStore) SearchSoftware(_ context.Context, q model.SoftwareQuery) ([]model.SoftwareHit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.Name == "" || q.Limit < 0 {
		return nil, fmt.Errorf("search %q: %w", q.Name, model.ErrInvalid)
	}
	var out []model.SoftwareHit
	for id, x := range f.invs {
		for _, p := range x.inv.Software {
			if inventory.MatchName(q.Name, p.Name) && (q.Below == "" || inventory.Below(p, q.Below)) {
				out = append(out, model.SoftwareHit{AgentID: id, Hostname: f.agents[id].Hostname, Package: p})
			}
		}
	}
	inventory.SortHits(out)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// setInventory stores an agent's current inventory; changes are appended to
// its history (give them oldest first).
func (f *fakeStore) setInventory(id string, inv wire.Inventory, at time.Time, changes ...model.InventoryChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invs[id] = fakeInventory{inv, at}
	for _, c := range changes {
		c.AgentID = id
		f.history[id] = append(f.history[id], c)
	}
}

// addMedia appends events to the media log, assigning ids in order.
func (f *fakeStore) addMedia(evs ...model.MediaEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range evs {
		e.ID = int64(len(f.media) + 1)
		f.media = append(f.media, e)
	}
}

func (f *fakeStore) MediaLog(_ context.Context, q model.MediaLogQuery) ([]model.MediaEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.Limit <= 0 {
		return nil, fmt.Errorf("media log limit %d: %w", q.Limit, model.ErrInvalid)
	}
	var out []model.MediaEvent
	for i := len(f.media) - 1; i >= 0 && len(out) < q.Limit; i-- {
		e := f.media[i]
		if (q.AgentID != "" && e.AgentID != q.AgentID) || (q.Key != "" && e.Event.Device.Key() != q.Key) ||
			(q.BeforeID != 0 && e.ID >= q.BeforeID) {
			continue
		}
		if a, ok := f.agents[e.AgentID]; ok {
			e.Hostname = a.Hostname
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeStore) PendingMedia(_ context.Context, limit int) ([]model.MediaEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.MediaEvent
	for _, e := range f.media {
		if !e.Evaluated && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) MediaRegister(context.Context) ([]model.MediaEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.MediaEntry, 0, len(f.register))
	for _, e := range f.register {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b model.MediaEntry) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

func (f *fakeStore) ImportMediaRegister(_ context.Context, entries []model.MediaEntry, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ch model.RegisterChange
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Key()] {
			return ch, fmt.Errorf("media entry %q twice: %w", e.Key(), model.ErrConflict)
		}
		seen[e.Key()] = true
	}
	for _, e := range entries {
		old, ok := f.register[e.Key()]
		e.UpdatedAt, e.UpdatedBy = at, actor
		switch {
		case !ok:
			ch.Added++
		case sameEntry(old, e):
			ch.Unchanged++
			continue
		default:
			ch.Updated++
		}
		f.register[e.Key()] = e
		f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: "media.register.put", Subject: e.Key()})
	}
	if replace {
		for k := range f.register {
			if !seen[k] {
				delete(f.register, k)
				ch.Removed++
				f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: "media.register.delete", Subject: k})
			}
		}
	}
	return ch, nil
}

func sameEntry(a, b model.MediaEntry) bool {
	a.UpdatedAt, a.UpdatedBy, b.UpdatedAt, b.UpdatedBy = time.Time{}, "", time.Time{}, ""
	return a == b
}

func (f *fakeStore) DeleteMediaEntry(_ context.Context, key, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.register[key]; !ok {
		return notFound("media entry", key)
	}
	delete(f.register, key)
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: "media.register.delete", Subject: key})
	return nil
}

func (f *fakeStore) registerEntries() map[string]model.MediaEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]model.MediaEntry, len(f.register))
	for k, v := range f.register {
		out[k] = v
	}
	return out
}

// addTimeline appends an entry to deviation id's timeline.
func (f *fakeStore) addTimeline(id string, e model.TimelineEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tlSeq++
	e.Seq = f.tlSeq
	f.devs[id].timeline = append(f.devs[id].timeline, e)
}

// addDeviation stores d with a "created" timeline entry.
func (f *fakeStore) addDeviation(d model.Deviation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tlSeq++
	f.devs[d.ID] = &fakeDeviation{d: d, timeline: []model.TimelineEvent{
		{Seq: f.tlSeq, At: d.CreatedAt, Actor: "system", Type: model.TimelineCreated, Text: d.Title},
	}}
}

func (f *fakeStore) RecordFindings(_ context.Context, fs []model.NewDeviation, judged model.Judged, now time.Time) ([]model.RecordResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.RecordResult
	for _, nd := range fs {
		var open *fakeDeviation
		for _, x := range f.devs {
			if x.d.Rule == nd.Rule && x.d.Subject == nd.Subject && model.StatusOpen(x.d.Status) {
				open = x
			}
		}
		if open != nil {
			open.d.Count++
			open.d.LastSeen = nd.At
			out = append(out, model.RecordResult{ID: open.d.ID})
			continue
		}
		id := fmt.Sprintf("AVVIK-%d-%d", now.Year(), len(f.devs)+1)
		f.tlSeq++
		f.devs[id] = &fakeDeviation{d: model.Deviation{
			ID: id, Rule: nd.Rule, Subject: nd.Subject, AgentID: nd.AgentID, Title: nd.Title, Severity: nd.Severity,
			Refs: nd.Refs, Status: model.StatusNew, Assignees: nd.Assignees, CreatedAt: now, UpdatedAt: now,
			DueAt: nd.DueAt, FirstSeen: nd.At, LastSeen: nd.At, Count: 1, PersonalData: nd.PersonalData,
			BreachDue: nd.BreachDue, Facts: nd.Facts, Evidence: nd.Evidence,
		}, timeline: []model.TimelineEvent{{Seq: f.tlSeq, At: now, Actor: "system", Type: model.TimelineCreated}}}
		out = append(out, model.RecordResult{ID: id, Created: true})
	}
	for i := range f.media {
		if slices.Contains(judged.Media, f.media[i].ID) {
			f.media[i].Evaluated = true
		}
	}
	return out, nil
}

func (f *fakeStore) GetDeviation(_ context.Context, id string) (model.Deviation, []model.TimelineEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.devs[id]
	if !ok {
		return model.Deviation{}, nil, notFound("deviation", id)
	}
	return x.d, slices.Clone(x.timeline), nil
}

func (f *fakeStore) ListDeviations(_ context.Context, q model.DeviationQuery) ([]model.Deviation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.Limit <= 0 {
		return nil, fmt.Errorf("deviation limit %d: %w", q.Limit, model.ErrInvalid)
	}
	var out []model.Deviation
	for _, x := range f.devs {
		d := x.d
		switch {
		case q.Status == "open" && !model.StatusOpen(d.Status),
			q.Status != "" && q.Status != "open" && d.Status != q.Status,
			q.Rule != "" && d.Rule != q.Rule,
			q.AgentID != "" && d.AgentID != q.AgentID,
			q.Subject != "" && d.Subject != q.Subject,
			q.Severity != "" && d.Severity != q.Severity:
			continue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b model.Deviation) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(devNumber(b.ID), devNumber(a.ID))
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func devNumber(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	return n
}

func (f *fakeStore) SetDeviationStatus(_ context.Context, id, status, actor, reason string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failStatus != nil {
		return f.failStatus
	}
	x, ok := f.devs[id]
	if !ok {
		return notFound("deviation", id)
	}
	from := x.d.Status
	okStep := (from == model.StatusNew && (status == model.StatusHandling || status == model.StatusRejected)) ||
		(from == model.StatusHandling && (status == model.StatusClosed || status == model.StatusRejected))
	if !okStep || ((status == model.StatusClosed || status == model.StatusRejected) && strings.TrimSpace(reason) == "") {
		return fmt.Errorf("status %s -> %s: %w", from, status, model.ErrInvalid)
	}
	x.d.Status, x.d.UpdatedAt = status, now
	f.tlSeq++
	x.timeline = append(x.timeline, model.TimelineEvent{Seq: f.tlSeq, At: now, Actor: actor, Type: model.TimelineStatus,
		Text: reason, Detail: fmt.Sprintf(`{"from":%q,"to":%q}`, from, status)})
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: now, Actor: actor, Action: "deviation.status", Subject: id})
	return nil
}

func (f *fakeStore) CommentDeviation(_ context.Context, id, actor, text string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.devs[id]
	if !ok {
		return notFound("deviation", id)
	}
	f.tlSeq++
	x.timeline = append(x.timeline, model.TimelineEvent{Seq: f.tlSeq, At: now, Actor: actor, Type: model.TimelineComment, Text: text})
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: now, Actor: actor, Action: "deviation.comment", Subject: id})
	return nil
}

// fakeCSVHeader is the header of the media register's CSV form.
const fakeCSVHeader = "serial,vid,pid,marking_id,owner_unit,classification,encryption_required,note"

// fakeParseCSV stands in for the register package's parser: the header, then
// one entry a line. It reports a wrong column count, a VID or PID that is not
// four hex digits, a bad encryption_required and a repeated key.
func fakeParseCSV(r io.Reader, validOnly bool) ([]model.MediaEntry, []CSVProblem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []model.MediaEntry
	var problems []CSVProblem
	seen := map[string]int{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if line == 1 {
			if strings.Join(rec, ",") != fakeCSVHeader {
				problems = append(problems, CSVProblem{Line: 1, Message: "header must be " + fakeCSVHeader})
				return nil, problems, nil
			}
			continue
		}
		if len(rec) != 8 {
			problems = append(problems, CSVProblem{Line: line, Message: fmt.Sprintf("%d fields, want 8", len(rec))})
			continue
		}
		e := model.MediaEntry{Serial: rec[0], VID: strings.ToLower(rec[1]), PID: strings.ToLower(rec[2]), MarkingID: rec[3],
			OwnerUnit: rec[4], Classification: rec[5], Note: rec[7]}
		bad := ""
		for _, id := range []string{e.VID, e.PID} {
			if _, err := strconv.ParseUint(id, 16, 16); id != "" && (len(id) != 4 || err != nil) {
				bad = fmt.Sprintf("vid/pid %q: want 4 hex digits", id)
			}
		}
		switch rec[6] {
		case "yes":
			e.EncryptionRequired = true
		case "no", "":
		default:
			bad = fmt.Sprintf("encryption_required %q: want yes or no", rec[6])
		}
		if first, ok := seen[e.Key()]; ok && bad == "" {
			bad = fmt.Sprintf("medium %s repeats line %d", e.Key(), first)
		}
		if bad != "" {
			problems = append(problems, CSVProblem{Line: line, Message: bad})
			continue
		}
		seen[e.Key()] = line
		out = append(out, e)
	}
	if len(problems) > 0 && !validOnly {
		return nil, problems, nil
	}
	return out, problems, nil
}

// fakeWriteCSV stands in for the register package's writer, neutralising
// cells a spreadsheet would run as formulas with a leading apostrophe.
func fakeWriteCSV(w io.Writer, entries []model.MediaEntry) error {
	cw := csv.NewWriter(w)
	safe := func(s string) string {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			return "'" + s
		}
		return s
	}
	if err := cw.Write(strings.Split(fakeCSVHeader, ",")); err != nil {
		return err
	}
	for _, e := range entries {
		enc := "no"
		if e.EncryptionRequired {
			enc = "yes"
		}
		rec := []string{e.Serial, e.VID, e.PID, e.MarkingID, e.OwnerUnit, e.Classification, enc, e.Note}
		for i := range rec {
			rec[i] = safe(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (f *fakeStore) Assets(context.Context) ([]model.Asset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.Asset, 0, len(f.assets))
	for _, a := range f.assets {
		a.MACs = slices.Sorted(slices.Values(a.MACs))
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b model.Asset) int { return strings.Compare(a.Tag, b.Tag) })
	return out, nil
}

// ImportAssets refuses a repeated tag, an empty tag and a MAC of two assets
// (counting the assets that stay), writing nothing then.
func (f *fakeStore) ImportAssets(_ context.Context, assets []model.Asset, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ch model.RegisterChange
	seen := map[string]bool{}
	owner := map[string]string{} // mac -> tag
	for _, a := range assets {
		if a.Tag == "" {
			return ch, fmt.Errorf("asset without a tag: %w", model.ErrInvalid)
		}
		if seen[a.Tag] {
			return ch, fmt.Errorf("asset %q twice: %w", a.Tag, model.ErrConflict)
		}
		seen[a.Tag] = true
	}
	if !replace {
		for tag, a := range f.assets {
			if !seen[tag] {
				for _, m := range a.MACs {
					owner[m] = tag
				}
			}
		}
	}
	for _, a := range assets {
		for _, m := range a.MACs {
			if t, ok := owner[m]; ok && t != a.Tag {
				return ch, fmt.Errorf("MAC %s belongs to assets %q and %q: %w", m, t, a.Tag, model.ErrConflict)
			}
			owner[m] = a.Tag
		}
	}
	for _, a := range assets {
		if a.Status == "" {
			a.Status = model.AssetActive
		}
		old, ok := f.assets[a.Tag]
		a.UpdatedAt, a.UpdatedBy = at, actor
		action := "asset.update"
		switch {
		case !ok:
			ch.Added++
			action = "asset.add"
		case sameAsset(old, a):
			ch.Unchanged++
			continue
		default:
			ch.Updated++
		}
		f.assets[a.Tag] = a
		f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: action, Subject: a.Tag})
	}
	if replace {
		for tag := range f.assets {
			if !seen[tag] {
				delete(f.assets, tag)
				ch.Removed++
				f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: "asset.remove", Subject: tag})
			}
		}
	}
	return ch, nil
}

func sameAsset(a, b model.Asset) bool {
	a.UpdatedAt, a.UpdatedBy, b.UpdatedAt, b.UpdatedBy = time.Time{}, "", time.Time{}, ""
	a.MACs, b.MACs = slices.Sorted(slices.Values(a.MACs)), slices.Sorted(slices.Values(b.MACs))
	return reflect.DeepEqual(a, b)
}

func (f *fakeStore) DeleteAsset(_ context.Context, tag, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.assets[tag]; !ok {
		return notFound("asset", tag)
	}
	delete(f.assets, tag)
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: "asset.remove", Subject: tag})
	return nil
}

func (f *fakeStore) assetEntries() map[string]model.Asset {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]model.Asset, len(f.assets))
	for k, v := range f.assets {
		out[k] = v
	}
	return out
}

func (f *fakeStore) ListUsers(context.Context) ([]model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.User, 0, len(f.users))
	for _, u := range f.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b model.User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *fakeStore) DeleteUserSessions(_ context.Context, user string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, s := range f.sessions {
		if s.User == user {
			delete(f.sessions, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) ListAPITokens(context.Context) ([]model.APIToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.APIToken, 0, len(f.tokens))
	for _, t := range f.tokens {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b model.APIToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (f *fakeStore) RevokeAPIToken(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok {
		return notFound("token", id)
	}
	if t.RevokedAt.IsZero() {
		t.RevokedAt = at
	}
	f.tokens[id] = t
	return nil
}

func (f *fakeStore) CreateEnrollToken(_ context.Context, t model.EnrollToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.enroll == nil {
		f.enroll = map[string]model.EnrollToken{}
	}
	if _, ok := f.enroll[t.ID]; ok {
		return fmt.Errorf("enroll token %q: %w", t.ID, model.ErrConflict)
	}
	f.enroll[t.ID] = t
	return nil
}

func (f *fakeStore) GetEnrollToken(_ context.Context, id string) (model.EnrollToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.enroll[id]
	if !ok {
		return model.EnrollToken{}, notFound("enroll token", id)
	}
	return t, nil
}

func (f *fakeStore) UseEnrollToken(_ context.Context, id string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.enroll[id]
	switch {
	case !ok:
		return notFound("enroll token", id)
	case t.Revoked():
		return fmt.Errorf("enroll token %s: %w", id, model.ErrRevoked)
	case !now.Before(t.ExpiresAt):
		return fmt.Errorf("enroll token %s: %w", id, model.ErrExpired)
	case t.UsesLeft == 0:
		return fmt.Errorf("enroll token %s: %w", id, model.ErrUsedUp)
	}
	t.UsesLeft--
	f.enroll[id] = t
	return nil
}

func (f *fakeStore) ListEnrollTokens(context.Context) ([]model.EnrollToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.EnrollToken, 0, len(f.enroll))
	for _, t := range f.enroll {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b model.EnrollToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (f *fakeStore) RevokeEnrollToken(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.enroll[id]
	if !ok {
		return notFound("enroll token", id)
	}
	if t.RevokedAt.IsZero() {
		t.RevokedAt = at
	}
	f.enroll[id] = t
	return nil
}

// AssignDeviation checks like the SQLite store: known forms, an open
// deviation; it writes the timeline and the audit log together.
func (f *fakeStore) AssignDeviation(_ context.Context, id string, assignees []string, actor string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.devs[id]
	if !ok {
		return notFound("deviation", id)
	}
	if len(assignees) == 0 || !model.StatusOpen(x.d.Status) {
		return fmt.Errorf("assign %s: %w", id, model.ErrInvalid)
	}
	for _, a := range assignees {
		if !model.ValidAssignee(a) {
			return fmt.Errorf("assignee %q: %w", a, model.ErrInvalid)
		}
	}
	detail := fmt.Sprintf(`{"from":%q,"to":%q}`, strings.Join(x.d.Assignees, ","), strings.Join(assignees, ","))
	x.d.Assignees, x.d.UpdatedAt = slices.Clone(assignees), now
	f.tlSeq++
	x.timeline = append(x.timeline, model.TimelineEvent{Seq: f.tlSeq, At: now, Actor: actor, Type: model.TimelineAssignment,
		Text: strings.Join(assignees, ", "), Detail: detail})
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: now, Actor: actor, Action: "deviation.assign", Subject: id, Detail: detail})
	return nil
}

// sessionsOf counts the sessions of user.
func (f *fakeStore) sessionsOf(user string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.sessions {
		if s.User == user {
			n++
		}
	}
	return n
}
