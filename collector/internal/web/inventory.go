package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/inventory"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Limits of the inventory pages and API.
const (
	hostHistoryRows     = 100  // changes on the host page
	defaultHistoryLimit = 100  // API, without ?limit=
	maxHistoryLimit     = 5000 // API
	softwareHitLimit    = 1000 // search page and API
	maxSearchBytes      = 200  // name and below, each
)

// hostView is the host page: the agent, its facts and its inventory.
type hostView struct {
	Host  model.HostSummary
	Inv   *wire.Inventory // nil until the first snapshot
	InvAt time.Time
	// Software is the inventory's packages that match Filter (all without one).
	Software []wire.Package
	Filter   string
	History  []changeView
	// HistoryLimited reports whether older changes were left out.
	HistoryLimited bool
	HistoryLimit   int
	// Media are the host's newest media events; MediaMore reports whether
	// there are older ones.
	Media     []mediaRow
	MediaMore bool
	// Flows are the host's newest hourly cross-zone flows; FlowsMore
	// reports whether there are older ones. ShowFlows is false when the
	// collector keeps no traffic.
	Flows     flowTable
	FlowsMore bool
	ShowFlows bool
	// Deviations are the host's deviations the user may see, open ones
	// first; ShowDeviations is false for a role that reads none.
	Deviations     []deviationRow
	DeviationsMore bool
	ShowDeviations bool
	// Health is the agent's resource guard from its newest health record;
	// nil when there is none to show.
	Health *healthView
}

// hostDeviationRows is how many deviations the host page lists.
const hostDeviationRows = 50

// changeView is one history row as the page shows it, its labels already in
// the page's language.
type changeView struct {
	At      time.Time
	Section string // label
	Op      string // model.Change… (for the badge's look)
	OpLabel string
	Item    string
	Details []fieldChange
}

// fieldChange is one field of an item: its value before and after (either
// may be empty when the item was added or removed).
type fieldChange struct {
	Label         string
	Before, After string
}

func (s *Server) handleHost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	h, err := s.store.GetHost(ctx, id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("get host: %w", err))
		return
	}
	v := hostView{Host: h, Filter: strings.TrimSpace(r.URL.Query().Get("sw")), HistoryLimit: hostHistoryRows}
	if len(v.Filter) > maxSearchBytes {
		s.fail(w, r, fmt.Errorf("software filter of %d bytes: %w", len(v.Filter), model.ErrInvalid))
		return
	}
	inv, at, err := s.store.GetInventory(ctx, id)
	switch {
	case errors.Is(err, model.ErrNotFound):
	case err != nil:
		s.fail(w, r, fmt.Errorf("get inventory: %w", err))
		return
	default:
		v.Inv, v.InvAt = &inv, at
		for _, p := range inv.Software {
			if v.Filter == "" || inventory.MatchName(v.Filter, p.Name) {
				v.Software = append(v.Software, p)
			}
		}
	}
	hist, err := s.store.InventoryHistory(ctx, id, hostHistoryRows+1)
	if err != nil {
		s.fail(w, r, fmt.Errorf("inventory history: %w", err))
		return
	}
	if len(hist) > hostHistoryRows {
		hist, v.HistoryLimited = hist[:hostHistoryRows], true
	}
	lang := langFrom(ctx)
	for _, c := range hist {
		v.History = append(v.History, newChangeView(lang, c))
	}
	if v.Media, v.MediaMore, err = s.hostMedia(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	v.ShowFlows = s.traffic != nil
	v.Flows = flowTable{LabelledBy: "host-flows-title"}
	if v.Flows.Rows, v.FlowsMore, err = s.hostFlows(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.hostDeviations(r, h, &v); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Health, err = s.hostHealth(ctx, lang, h); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "host", pageData{TitleText: hostname(h), Nav: "hosts", Data: v})
}

// newChangeView labels a history row in lang and spells out its fields.
func newChangeView(lang string, c model.InventoryChange) changeView {
	v := changeView{
		At:      c.At,
		Section: translate(lang, "change.section."+c.Section),
		Op:      c.Op,
		OpLabel: translate(lang, "change.op."+c.Op),
		Item:    c.Key,
	}
	switch c.Section {
	case model.ChangeSectionInventory:
		v.Item = translatef(lang, "hist.first", shortHash(c.Key))
		return v
	case model.ChangeSectionHost, model.ChangeSectionHardware:
		v.Item = translate(lang, "change.group."+c.Key)
	}
	before, after := flattenJSON(lang, c.Before), flattenJSON(lang, c.After)
	seen := map[string]bool{}
	var paths []string
	for _, f := range append(after, before...) {
		if !seen[f.Label] {
			seen[f.Label] = true
			paths = append(paths, f.Label)
		}
	}
	value := func(fs []fieldValue, label string) string {
		for _, f := range fs {
			if f.Label == label {
				return f.Value
			}
		}
		return ""
	}
	for _, p := range paths {
		b, a := value(before, p), value(after, p)
		if c.Op == model.ChangeChanged && a == b {
			continue
		}
		if c.Op == model.ChangeChanged {
			// Both sides shown, an arrow between: say so when one is empty.
			if b == "" {
				b = translate(lang, "value.empty")
			}
			if a == "" {
				a = translate(lang, "value.empty")
			}
		}
		v.Details = append(v.Details, fieldChange{Label: p, Before: b, After: a})
	}
	return v
}

// fieldValue is one leaf of an item's JSON: a labelled path and its value.
type fieldValue struct {
	Label, Value string
}

// flattenJSON turns an item's JSON into labelled leaves, in document order:
// field names are translated (field.<name>), list items named by their
// "name" (partitions, interfaces) or position, lists of plain values joined.
// Text that is no JSON object is one leaf with an empty label.
func flattenJSON(lang, doc string) []fieldValue {
	if doc == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var out []fieldValue
	var walk func(label string, v any)
	join := func(label, part string) string {
		if label == "" {
			return part
		}
		return label + " › " + part
	}
	walk = func(label string, v any) {
		switch x := v.(type) {
		case orderedObject:
			for _, kv := range x {
				walk(join(label, translate(lang, "field."+kv.key)), kv.value)
			}
		case []any:
			if scalars(x) {
				parts := make([]string, len(x))
				for i, e := range x {
					parts[i] = scalarText(lang, e)
				}
				out = append(out, fieldValue{label, strings.Join(parts, ", ")})
				return
			}
			for i, e := range x {
				name := strconv.Itoa(i + 1)
				if o, ok := e.(orderedObject); ok {
					if n, ok := o.get("name").(string); ok && n != "" {
						name = n
					}
				}
				walk(join(label, name), e)
			}
		default:
			out = append(out, fieldValue{label, scalarText(lang, x)})
		}
	}
	v, err := decodeOrdered(dec)
	if err != nil {
		return []fieldValue{{"", doc}}
	}
	walk("", v)
	return out
}

func scalars(xs []any) bool {
	for _, x := range xs {
		switch x.(type) {
		case orderedObject, []any:
			return false
		}
	}
	return true
}

func scalarText(lang string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return translate(lang, "value.yes")
		}
		return translate(lang, "value.no")
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// orderedObject is a JSON object with its keys in document order.
type orderedObject []struct {
	key   string
	value any
}

func (o orderedObject) get(key string) any {
	for _, kv := range o {
		if kv.key == key {
			return kv.value
		}
	}
	return nil
}

// decodeOrdered decodes one JSON value, keeping object keys in order.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o orderedObject
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				o = append(o, struct {
					key   string
					value any
				}{k, v})
			}
			_, err := dec.Token()
			return o, err
		case '[':
			xs := []any{}
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				xs = append(xs, v)
			}
			_, err := dec.Token()
			return xs, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// encryptionText says in words whether a volume is encrypted, and how.
func encryptionText(lang string, p wire.Partition) string {
	switch {
	case p.Encrypted && p.Encryption != "" && p.Encryption != "unknown":
		return translatef(lang, "disk.encrypted", p.Encryption)
	case p.Encrypted:
		return translate(lang, "disk.encrypted_plain")
	case p.Encryption == "unknown":
		return translate(lang, "disk.encryption_unknown")
	default:
		return translate(lang, "disk.not_encrypted")
	}
}

// sourceName names a packaging system; unknown ones are shown as sent.
func sourceName(lang, source string) string {
	switch source {
	case inventory.SourceDpkg, inventory.SourceRPM, inventory.SourceWindows:
		return translate(lang, "source."+source)
	}
	return source
}

// softwareView is the software search page.
type softwareView struct {
	Name, Below string
	Searched    bool
	Hits        []model.SoftwareHit
	Hosts       int // distinct hosts among the hits
	Limited     bool
	Limit       int
}

func (s *Server) handleSoftware(w http.ResponseWriter, r *http.Request) {
	q, err := softwareQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := softwareView{Name: q.Name, Below: q.Below, Limit: softwareHitLimit}
	if q.Name != "" {
		hits, limited, err := s.searchSoftware(r, q)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.Searched, v.Hits, v.Limited = true, hits, limited
		hosts := map[string]bool{}
		for _, h := range hits {
			hosts[h.AgentID] = true
		}
		v.Hosts = len(hosts)
	}
	s.render(w, r, http.StatusOK, "software", pageData{Title: "software.title", Nav: "software", Data: v})
}

// softwareQuery reads ?name= and ?below=.
func softwareQuery(r *http.Request) (model.SoftwareQuery, error) {
	q := model.SoftwareQuery{
		Name:  strings.TrimSpace(r.URL.Query().Get("name")),
		Below: strings.TrimSpace(r.URL.Query().Get("below")),
	}
	if len(q.Name) > maxSearchBytes || len(q.Below) > maxSearchBytes {
		return q, fmt.Errorf("software query over %d bytes: %w", maxSearchBytes, model.ErrInvalid)
	}
	return q, nil
}

// searchSoftware runs q with the hit limit; limited reports whether there
// were more hits than it.
func (s *Server) searchSoftware(r *http.Request, q model.SoftwareQuery) (hits []model.SoftwareHit, limited bool, err error) {
	q.Limit = softwareHitLimit + 1
	hits, err = s.store.SearchSoftware(r.Context(), q)
	if err != nil {
		return nil, false, fmt.Errorf("search software: %w", err)
	}
	if len(hits) > softwareHitLimit {
		return hits[:softwareHitLimit], true, nil
	}
	return hits, false, nil
}

// API.

func (s *Server) handleAPIInventory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	inv, at, err := s.store.GetInventory(r.Context(), id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("get inventory: %w", err))
		return
	}
	// The snapshot's own fields at the top level, beside whose and when.
	writeJSON(w, http.StatusOK, struct {
		AgentID   string `json:"agent_id"`
		FetchedAt string `json:"fetched_at"`
		wire.Inventory
	}{id, apiTime(at), inv})
}

// apiChange is one history row in the JSON API; before and after are the
// item's JSON, left out when there is none.
type apiChange struct {
	At      string          `json:"at"`
	Seq     uint64          `json:"seq"`
	Section string          `json:"section"`
	Op      string          `json:"op"`
	Key     string          `json:"key"`
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
}

func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return nil
	}
	return b.Bytes()
}

func (s *Server) handleAPIInventoryHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	limit := defaultHistoryLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxHistoryLimit {
			s.fail(w, r, fmt.Errorf("history limit %q, want 1..%d: %w", v, maxHistoryLimit, model.ErrInvalid))
			return
		}
		limit = n
	}
	hist, err := s.store.InventoryHistory(r.Context(), id, limit)
	if err != nil {
		s.fail(w, r, fmt.Errorf("inventory history: %w", err))
		return
	}
	out := make([]apiChange, 0, len(hist))
	for _, c := range hist {
		out = append(out, apiChange{At: apiTime(c.At), Seq: c.Seq, Section: c.Section, Op: c.Op, Key: c.Key,
			Before: rawJSON(c.Before), After: rawJSON(c.After)})
	}
	writeJSON(w, http.StatusOK, struct {
		AgentID string      `json:"agent_id"`
		Changes []apiChange `json:"changes"`
	}{id, out})
}

// apiSoftwareHit is one package on one host in the JSON API.
type apiSoftwareHit struct {
	AgentID  string `json:"agent_id"`
	Hostname string `json:"hostname"`
	wire.Package
}

func (s *Server) handleAPISoftware(w http.ResponseWriter, r *http.Request) {
	q, err := softwareQuery(r)
	if err == nil && q.Name == "" {
		err = fmt.Errorf("software search without a name: %w", model.ErrInvalid)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hits, limited, err := s.searchSoftware(r, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]apiSoftwareHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, apiSoftwareHit{AgentID: h.AgentID, Hostname: h.Hostname, Package: h.Package})
	}
	writeJSON(w, http.StatusOK, struct {
		Name      string           `json:"name"`
		Below     string           `json:"below,omitempty"`
		Hits      []apiSoftwareHit `json:"hits"`
		Truncated bool             `json:"truncated"`
	}{q.Name, q.Below, out, limited})
}

// hitHostname is the name shown for a hit's host.
func hitHostname(h model.SoftwareHit) string {
	if h.Hostname != "" {
		return h.Hostname
	}
	return h.AgentID
}

// hostDeviations fills v with the host's deviations, open ones first, for a
// user who may read deviations (a line manager sees their scope only).
func (s *Server) hostDeviations(r *http.Request, h model.HostSummary, v *hostView) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	if p == nil || !s.allowed(p.Role, "GET /deviations") {
		return nil
	}
	v.ShowDeviations = true
	ds, err := s.listDeviations(ctx, p, model.DeviationQuery{AgentID: h.ID, Limit: hostDeviationRows + 1})
	if err != nil {
		return err
	}
	if len(ds) > hostDeviationRows {
		ds, v.DeviationsMore = ds[:hostDeviationRows], true
	}
	lang, now := langFrom(ctx), s.now()
	for _, d := range ds {
		v.Deviations = append(v.Deviations, newDeviationRow(lang, d, hostname(h), now))
	}
	slices.SortStableFunc(v.Deviations, func(a, b deviationRow) int {
		return boolInt(!model.StatusOpen(a.Status)) - boolInt(!model.StatusOpen(b.Status))
	})
	return nil
}
