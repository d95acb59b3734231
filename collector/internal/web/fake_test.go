package web

import (
	"context"
	"fmt"
	"slices"
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

	failAudit error // when set, AppendAudit returns it
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
