package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Limits of the configuration map page and API.
const (
	mapPageRows          = listPageRows // table rows per page
	mapAreaTiles         = 40           // tiles per zone area before "og N til"
	mapDiffRows          = 1000         // changes the page shows
	defaultSnapshotLimit = 100
	maxSnapshotLimit     = 1000
	snapshotPageRows     = 50
	maxNoteRunes         = 500
	diffCurrent          = "current"
)

// configMapDeps picks what the configuration map is built from and where its
// snapshots go: the Config fields, else the store when it keeps snapshots
// (then the map is built from it and Traffic with default options).
func configMapDeps(cfg Config) (build func(context.Context) (configmap.Map, error), snaps model.ConfigMapStore) {
	snaps = cfg.MapSnapshots
	if snaps == nil {
		snaps, _ = cfg.Store.(model.ConfigMapStore)
	}
	build = cfg.ConfigMap
	if build == nil && snaps != nil {
		src := mapSource{ConfigMapStore: snaps, assets: cfg.Store, traffic: cfg.Traffic}
		build = func(ctx context.Context) (configmap.Map, error) {
			now := time.Now
			if cfg.Now != nil {
				now = cfg.Now
			}
			return configmap.Build(ctx, src, configmap.BuildOptions{Options: configmap.Options{Now: now()}})
		}
	}
	return build, snaps
}

// mapSource is a configmap.Source over the web store and the traffic store;
// without a traffic store there are no devices and no zone links.
type mapSource struct {
	model.ConfigMapStore
	assets  model.AssetStore
	traffic model.TrafficStore
}

func (m mapSource) Assets(ctx context.Context) ([]model.Asset, error) { return m.assets.Assets(ctx) }

func (m mapSource) Neighbours(ctx context.Context) ([]model.Neighbour, error) {
	if m.traffic == nil {
		return nil, nil
	}
	return m.traffic.Neighbours(ctx)
}

func (m mapSource) ZoneMatrix(ctx context.Context, from, to time.Time) ([]model.ZonePair, error) {
	if m.traffic == nil {
		return nil, nil
	}
	return m.traffic.ZoneMatrix(ctx, from, to)
}

// mapStores returns the map builder and the snapshot store, or a refusal
// when the collector was started without them.
func (s *Server) mapStores() (func(context.Context) (configmap.Map, error), model.ConfigMapStore, error) {
	if s.configMap == nil || s.mapSnapshots == nil {
		return nil, nil, refuse(model.ErrNotFound, "problem.no_configmap")
	}
	return s.configMap, s.mapSnapshots, nil
}

// mapMaxAge bounds how long a built map serves requests when nothing was
// published meanwhile: states that change with time alone (silent) are at
// most this late.
const mapMaxAge = time.Second

// mapCache shares one built configuration map between requests: when a
// change is published, every open map and overview page fetches itself
// again at once, and they should not each build the map.
type mapCache struct {
	mu    sync.Mutex // held while building, so concurrent callers wait and share
	m     configmap.Map
	stamp uint64    // changeStamp when the build began
	built time.Time // when it began (monotonic)
	ok    bool
}

// changeStamp grows with every change made through this server and every
// change published to the live hub (ingest, deviations).
func (s *Server) changeStamp() uint64 { return s.changes.Load() + s.live.Changes() }

// currentMap returns the configuration map as it is now: built afresh, or
// shared from a build that began after every change this request could
// know of and less than mapMaxAge ago. Callers must not modify it.
func (s *Server) currentMap(ctx context.Context) (configmap.Map, error) {
	build, _, err := s.mapStores()
	if err != nil {
		return configmap.Map{}, err
	}
	seen := s.changeStamp()
	c := &s.mapCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.stamp >= seen && time.Since(c.built) < mapMaxAge {
		return c.m, nil
	}
	stamp, began := s.changeStamp(), time.Now()
	m, err := build(ctx)
	if err != nil {
		return configmap.Map{}, fmt.Errorf("configuration map: %w", err)
	}
	c.m, c.stamp, c.built, c.ok = m, stamp, began, true
	return m, nil
}

// mapFilter selects entries of the map: by state, kind, zone and unit
// (exact), and a search over hostname, MACs, serial, IPs, agent ids and
// asset tag (case-insensitive substring).
type mapFilter struct {
	State, Kind, Zone, Unit, Q string
}

func (f mapFilter) any() bool { return f != mapFilter{} }

// mapQuery reads ?state=, ?kind=, ?zone=, ?unit= and ?q=.
func mapQuery(r *http.Request) (mapFilter, error) {
	var f mapFilter
	for _, p := range []struct {
		name string
		dst  *string
	}{{"state", &f.State}, {"kind", &f.Kind}, {"zone", &f.Zone}, {"unit", &f.Unit}, {"q", &f.Q}} {
		v, err := queryParam(r, p.name)
		if err != nil {
			return f, err
		}
		*p.dst = v
	}
	if f.State != "" && !slices.Contains(configmap.States, configmap.State(f.State)) {
		return f, refuse(model.ErrInvalid, "problem.map_state", joinStates())
	}
	if f.Kind != "" && !slices.Contains(mapKinds, f.Kind) {
		return f, refuse(model.ErrInvalid, "problem.map_kind", strings.Join(mapKinds, ", "))
	}
	return f, nil
}

var mapKinds = []string{configmap.KindAsset, configmap.KindAgent, configmap.KindDevice}

func joinStates() string {
	out := make([]string, len(configmap.States))
	for i, s := range configmap.States {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// match reports whether e passes the filter.
func (f mapFilter) match(e configmap.Entry) bool {
	switch {
	case f.State != "" && string(e.State) != f.State,
		f.Kind != "" && e.Kind != f.Kind,
		f.Zone != "" && !strings.EqualFold(e.Zone, f.Zone),
		f.Unit != "" && !strings.EqualFold(e.Unit, f.Unit):
		return false
	}
	if f.Q == "" {
		return true
	}
	q := strings.ToLower(f.Q)
	has := func(v string) bool { return strings.Contains(strings.ToLower(v), q) }
	if has(e.Hostname) || has(e.Serial) || has(e.Key()) ||
		slices.ContainsFunc(e.MACs, has) || slices.ContainsFunc(e.IPs, has) || slices.ContainsFunc(e.AgentIDs, has) {
		return true
	}
	return e.Asset != nil && (has(e.Asset.Tag) || has(e.Asset.Hostname))
}

// filterMap returns the entries of m that pass f.
func filterMap(m configmap.Map, f mapFilter) []configmap.Entry {
	if !f.any() {
		return m.Entries
	}
	var out []configmap.Entry
	for _, e := range m.Entries {
		if f.match(e) {
			out = append(out, e)
		}
	}
	return out
}

// --- API ---

// apiMap is the configuration map in the JSON API: the counts are over the
// whole map, the entries those that pass the filter.
type apiMap struct {
	At      string            `json:"at"`
	Counts  map[string]int    `json:"counts"`
	Total   int               `json:"total"`
	Entries []configmap.Entry `json:"entries"`
	Links   []apiMapLink      `json:"links"`
	Filter  map[string]string `json:"filter,omitempty"`
}

// apiMapLink is one zone link of the map.
type apiMapLink struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Flows   int    `json:"flows"`
	Allowed bool   `json:"allowed"`
}

func newAPIMap(m configmap.Map, f mapFilter) apiMap {
	out := apiMap{At: apiTime(m.At), Counts: map[string]int{}, Total: len(m.Entries),
		Entries: nonNil(filterMap(m, f)), Links: make([]apiMapLink, 0, len(m.Links))}
	for _, st := range configmap.States {
		out.Counts[string(st)] = m.Counts[st]
	}
	for _, l := range m.Links {
		out.Links = append(out.Links, apiMapLink(l))
	}
	if f.any() {
		out.Filter = map[string]string{}
		for k, v := range map[string]string{"state": f.State, "kind": f.Kind, "zone": f.Zone, "unit": f.Unit, "q": f.Q} {
			if v != "" {
				out.Filter[k] = v
			}
		}
	}
	return out
}

func (s *Server) handleAPIConfigMap(w http.ResponseWriter, r *http.Request) {
	f, err := mapQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.currentMap(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPIMap(m, f))
}

// apiSnapshot is a stored snapshot in the JSON API; Map only when one
// snapshot is asked for.
type apiSnapshot struct {
	ID      int64          `json:"id"`
	At      string         `json:"at"`
	TakenBy string         `json:"taken_by"`
	Note    string         `json:"note,omitempty"`
	Counts  map[string]int `json:"counts"`
	Map     *apiMap        `json:"map,omitempty"`
}

func newAPISnapshot(sn model.MapSnapshot) apiSnapshot {
	counts := map[string]int{}
	for _, st := range configmap.States {
		counts[string(st)] = sn.Counts[string(st)]
	}
	return apiSnapshot{ID: sn.ID, At: apiTime(sn.At), TakenBy: sn.TakenBy, Note: sn.Note, Counts: counts}
}

func (s *Server) snapshots(r *http.Request, limit int) ([]model.MapSnapshot, error) {
	_, st, err := s.mapStores()
	if err != nil {
		return nil, err
	}
	list, err := st.ListMapSnapshots(r.Context(), limit)
	if err != nil {
		return nil, fmt.Errorf("map snapshots: %w", err)
	}
	return list, nil
}

func (s *Server) handleAPIMapSnapshots(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r, defaultSnapshotLimit, maxSnapshotLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.snapshots(r, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]apiSnapshot, 0, len(list))
	for _, sn := range list {
		out = append(out, newAPISnapshot(sn))
	}
	writeJSON(w, http.StatusOK, struct {
		Snapshots []apiSnapshot `json:"snapshots"`
	}{out})
}

// snapshotIDOf parses a snapshot id.
func snapshotIDOf(name, v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, refuse(model.ErrInvalid, "problem.snapshot_id", name)
	}
	return id, nil
}

// snapshot reads one snapshot and its map.
func (s *Server) snapshot(ctx context.Context, id int64) (model.MapSnapshot, configmap.Map, error) {
	_, st, err := s.mapStores()
	if err != nil {
		return model.MapSnapshot{}, configmap.Map{}, err
	}
	sn, err := st.GetMapSnapshot(ctx, id)
	if err != nil {
		return model.MapSnapshot{}, configmap.Map{}, fmt.Errorf("map snapshot: %w", err)
	}
	m, err := configmap.Decode(sn)
	if err != nil {
		return model.MapSnapshot{}, configmap.Map{}, err
	}
	return sn, m, nil
}

func (s *Server) handleAPIMapSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := snapshotIDOf("id", r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := mapQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sn, m, err := s.snapshot(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := newAPISnapshot(sn)
	am := newAPIMap(m, f)
	out.Map = &am
	writeJSON(w, http.StatusOK, out)
}

// takeSnapshot stores the current map as a snapshot by the signed-in user.
func (s *Server) takeSnapshot(r *http.Request, note string) (int64, error) {
	build, st, err := s.mapStores()
	if err != nil {
		return 0, err
	}
	note, err = checkText(note, false, "")
	if err != nil {
		return 0, err
	}
	if len([]rune(note)) > maxNoteRunes {
		return 0, refuse(model.ErrInvalid, "problem.note_long", maxNoteRunes)
	}
	actor := ""
	if p := principalFrom(r.Context()); p != nil {
		actor = p.Name
	}
	return configmap.Take(r.Context(), st, build, actor, note)
}

func (s *Server) handleAPIMapSnapshotCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Note string `json:"note"`
	}
	// An empty body takes a snapshot without a note.
	if r.ContentLength != 0 {
		if err := decodeJSONBody(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	id, err := s.takeSnapshot(r, body.Note)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sn, _, err := s.snapshot(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/configmap/snapshots/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusCreated, newAPISnapshot(sn))
}

// mapDiff is a diff between two maps and what they are.
type mapDiff struct {
	From, To       model.MapSnapshot // ID 0 for the current map
	FromAt, ToAt   time.Time
	Changes        []configmap.Change
	FromID, ToName string // as the query named them
}

// diffQuery reads ?from= (a snapshot id; the newest snapshot without one)
// and ?to= (a snapshot id or "current", the default) and computes the diff.
func (s *Server) diffQuery(r *http.Request) (mapDiff, error) {
	var d mapDiff
	fromV, err := queryParam(r, "from")
	if err != nil {
		return d, err
	}
	toV, err := queryParam(r, "to")
	if err != nil {
		return d, err
	}
	if toV == "" {
		toV = diffCurrent
	}
	var from, to configmap.Map
	if fromV == "" {
		list, err := s.snapshots(r, 1)
		if err != nil {
			return d, err
		}
		if len(list) == 0 {
			return d, refuse(model.ErrNotFound, "problem.no_snapshot")
		}
		fromV = strconv.FormatInt(list[0].ID, 10)
	}
	id, err := snapshotIDOf("from", fromV)
	if err != nil {
		return d, err
	}
	if d.From, from, err = s.snapshot(r.Context(), id); err != nil {
		return d, err
	}
	if toV == diffCurrent {
		if to, err = s.currentMap(r.Context()); err != nil {
			return d, err
		}
	} else {
		id, err := snapshotIDOf("to", toV)
		if err != nil {
			return d, err
		}
		if d.To, to, err = s.snapshot(r.Context(), id); err != nil {
			return d, err
		}
	}
	d.FromAt, d.ToAt, d.FromID, d.ToName = from.At, to.At, fromV, toV
	d.Changes = configmap.Diff(from, to)
	return d, nil
}

// apiMapChange is one change between two maps.
type apiMapChange struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Op     string `json:"op"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

func (s *Server) handleAPIMapDiff(w http.ResponseWriter, r *http.Request) {
	d, err := s.diffQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type end struct {
		Snapshot string `json:"snapshot"` // an id, or "current"
		At       string `json:"at"`
	}
	out := struct {
		From    end            `json:"from"`
		To      end            `json:"to"`
		Changes []apiMapChange `json:"changes"`
	}{From: end{d.FromID, apiTime(d.FromAt)}, To: end{d.ToName, apiTime(d.ToAt)}, Changes: make([]apiMapChange, 0, len(d.Changes))}
	for _, c := range d.Changes {
		out.Changes = append(out.Changes, apiMapChange(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// --- page ---

// stateCount is one state's count on the page, with the filter link.
type stateCount struct {
	State, Label, Badge, Href string
	N                         int64
	Current                   bool
}

// mapRow is one entry as the page shows it.
type mapRow struct {
	configmap.Entry
	Key, KindLabel, StateLabel, Badge string
	Why                               []string // the reasons in the page's language
}

func newMapRow(lang string, e configmap.Entry) mapRow {
	return mapRow{Entry: e, Key: e.Key(), KindLabel: translate(lang, "configmap.kind."+e.Kind),
		StateLabel: translate(lang, "configmap.state."+string(e.State)), Badge: stateBadge(e.State), Why: reasonTexts(lang, e)}
}

// reasonText says a reason in lang; in English when the catalogue does not
// know its code.
func reasonText(lang string, r configmap.Reason) string {
	f := translateOr(lang, "configmap.why."+r.Code, "")
	if f == "" {
		return r.String()
	}
	return fmt.Sprintf(f, r.Values()...)
}

// changeRow is one change as the page shows it.
type changeRow struct {
	configmap.Change
	KindLabel, OpLabel string
}

// mapView is the configuration map page.
type mapView struct {
	At       time.Time
	Counts   []stateCount
	Filter   mapFilter
	Filtered bool
	States   []option
	Kinds    []option
	Rows     []mapRow
	Pager    pager
	Areas    []mapArea
	Matrix   *matrixView // nil without a traffic store
	// The download links, carrying the filters.
	SVGHref, DOTHref, JSONHref string
	Matching                   int // entries that pass the filter; Rows holds one page of them
	Total                      int
	Snapshots                  []model.MapSnapshot
	CanSnapshot                bool
	Saved                      int64 // the snapshot just taken, from ?saved=
	Diff                       *diffView
	DiffFrom                   string
	DiffTo                     string
	Current                    string // the value of ?to= that names the map now
}

// diffView is a diff on the page.
type diffView struct {
	FromLabel, ToLabel string
	Rows               []changeRow
	Total              int
}

// stateBadge is the badge class a state is shown with; the text says the
// state too, so colour is never the only signal.
func stateBadge(st configmap.State) string {
	switch st {
	case configmap.Matched:
		return "badge-ok"
	case configmap.Silent:
		return "badge-warn"
	}
	return "badge-bad"
}

// zoneInfos are the zones of the zone map for the map's areas and
// pictures; nil without a zone map.
func (s *Server) zoneInfos() []configmap.ZoneInfo {
	m := s.zoneMap()
	if m == nil {
		return nil
	}
	zs := m.Zones()
	out := make([]configmap.ZoneInfo, len(zs))
	for i, z := range zs {
		out[i] = configmap.ZoneInfo{Name: z.Name, Kind: z.Level, Parent: z.Parent, Purpose: z.Purpose}
	}
	return out
}

// mapTile is one entry in a zone area.
type mapTile struct {
	Key, Name, State, StateLabel, Badge, Href string
}

// mapArea is one zone of the map view.
type mapArea struct {
	configmap.ZoneInfo
	ID        string // the element id of its heading
	KindLabel string
	Counts    []stateCount
	N         int
	Tiles     []mapTile
	More      int
	MoreHref  string
}

// newMapAreas groups entries into zone areas: every zone of the zone map
// (only those with entries when the view is filtered), at most mapAreaTiles
// tiles each.
func newMapAreas(lang string, entries []configmap.Entry, zones []configmap.ZoneInfo, f mapFilter, q url.Values) []mapArea {
	var out []mapArea
	for i, a := range configmap.Areas(entries, zones) {
		if f.any() && len(a.Entries) == 0 {
			continue
		}
		ma := mapArea{ZoneInfo: a.Zone, ID: "map-zone-" + strconv.Itoa(i), N: len(a.Entries),
			KindLabel: translateOr(lang, "zone.kind."+a.Zone.Kind, a.Zone.Kind)}
		if a.Zone.Name == "" {
			ma.Name = translate(lang, "configmap.no_zone")
		}
		for _, st := range configmap.States {
			if n := a.Counts[st]; n > 0 {
				ma.Counts = append(ma.Counts, stateCount{State: string(st), Label: translate(lang, "configmap.state."+string(st)),
					Badge: stateBadge(st), N: int64(n)})
			}
		}
		for _, e := range a.Entries[:min(len(a.Entries), mapAreaTiles)] {
			t := mapTile{Key: e.Key(), Name: cmp.Or(e.Hostname, e.Key()), State: string(e.State),
				StateLabel: translate(lang, "configmap.state."+string(e.State)), Badge: stateBadge(e.State)}
			if len(e.AgentIDs) > 0 && e.Kind != configmap.KindDevice { // a device's agents only saw it
				t.Href = "/hosts/" + url.PathEscape(e.AgentIDs[0])
			}
			ma.Tiles = append(ma.Tiles, t)
		}
		if ma.More = len(a.Entries) - len(ma.Tiles); ma.More > 0 {
			mq := url.Values{}
			for k, v := range q {
				if k != "page" {
					mq[k] = v
				}
			}
			if a.Zone.Name != "" {
				mq.Set("zone", a.Zone.Name)
			}
			ma.MoreHref = "/configmap?" + mq.Encode() + "#cm-table-title"
		}
		out = append(out, ma)
	}
	return out
}

// filterValues are the map filters as a query.
func (f mapFilter) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "kind": f.Kind, "zone": f.Zone, "unit": f.Unit, "q": f.Q} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// mapMatrix is the zone-to-zone flow matrix of the last defaultFlowPeriod,
// judged by the firewall map; nil without a traffic store.
func (s *Server) mapMatrix(ctx context.Context) (*matrixView, error) {
	if s.traffic == nil {
		return nil, nil
	}
	to := s.now().Truncate(time.Hour).Add(time.Hour)
	pairs, err := s.traffic.ZoneMatrix(ctx, to.Add(-defaultFlowPeriod), to)
	if err != nil {
		return nil, fmt.Errorf("zone matrix: %w", err)
	}
	mv := newMatrixView(s.zoneMap(), pairs, func(src, dst string) string {
		return "/flows?" + url.Values{"src_zone": {src}, "dst_zone": {dst}}.Encode() + "#flows-title"
	})
	return &mv, nil
}

func (s *Server) handleConfigMapPage(w http.ResponseWriter, r *http.Request) {
	lang := langFrom(r.Context())
	f, err := mapQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := queryPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.currentMap(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	snaps, err := s.snapshots(r, snapshotPageRows)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := mapView{At: m.At, Filter: f, Filtered: f.any(), Total: len(m.Entries), Snapshots: snaps, Current: diffCurrent}
	if p := principalFrom(r.Context()); p != nil {
		v.CanSnapshot = s.allowed(p.Role, "POST /configmap/snapshots")
	}
	if saved := r.URL.Query().Get("saved"); saved != "" {
		v.Saved, _ = strconv.ParseInt(saved, 10, 64)
	}
	for _, st := range configmap.States {
		q := url.Values{"state": {string(st)}}
		v.Counts = append(v.Counts, stateCount{State: string(st), Label: translate(lang, "configmap.state."+string(st)),
			Badge: stateBadge(st), N: int64(m.Counts[st]), Href: "/configmap?" + q.Encode(), Current: f.State == string(st)})
	}
	v.States = []option{{"", translate(lang, "configmap.filter.all_states"), f.State == ""}}
	for _, st := range configmap.States {
		v.States = append(v.States, option{string(st), translate(lang, "configmap.state."+string(st)), f.State == string(st)})
	}
	v.Kinds = []option{{"", translate(lang, "configmap.filter.all_kinds"), f.Kind == ""}}
	for _, k := range mapKinds {
		v.Kinds = append(v.Kinds, option{k, translate(lang, "configmap.kind."+k), f.Kind == k})
	}
	entries := filterMap(m, f)
	v.Matching = len(entries)
	pg, lo, hi := newPager(r, len(entries), mapPageRows, page)
	v.Pager = pg
	for _, e := range entries[lo:hi] {
		v.Rows = append(v.Rows, newMapRow(lang, e))
	}
	v.Areas = newMapAreas(lang, entries, s.zoneInfos(), f, f.values())
	if v.Matrix, err = s.mapMatrix(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	fq := f.values().Encode()
	v.SVGHref, v.DOTHref, v.JSONHref = "/configmap.svg?"+fq, "/configmap.dot?"+fq, "/api/v1/configmap?"+fq

	if r.URL.Query().Has("from") || r.URL.Query().Has("to") {
		d, err := s.diffQuery(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.DiffFrom, v.DiffTo = d.FromID, d.ToName
		dv := &diffView{Total: len(d.Changes),
			FromLabel: translatef(lang, "configmap.diff.snapshot", d.FromID),
			ToLabel:   translate(lang, "configmap.diff.current")}
		if d.ToName != diffCurrent {
			dv.ToLabel = translatef(lang, "configmap.diff.snapshot", d.ToName)
		}
		for _, c := range d.Changes[:min(len(d.Changes), mapDiffRows)] {
			dv.Rows = append(dv.Rows, changeRow{Change: c, KindLabel: translate(lang, "configmap.kind."+c.Kind),
				OpLabel: translate(lang, "configmap.op."+c.Op)})
		}
		v.Diff = dv
	}
	s.render(w, r, http.StatusOK, "configmap", pageData{Title: "configmap.title", Nav: "configmap", Live: "map,hosts", Data: v})
}

func (s *Server) handleConfigMapSnapshotForm(w http.ResponseWriter, r *http.Request) {
	id, err := s.takeSnapshot(r, r.PostFormValue("note"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/configmap?saved="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// mapSnapshotters may take a snapshot of the configuration map: those who
// keep the registers and the security officer, who reviews them.
var mapSnapshotters = []model.Role{model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet}

// reasonTexts says an entry's reasons in lang; an entry read from an old
// snapshot without codes keeps its English texts.
func reasonTexts(lang string, e configmap.Entry) []string {
	if len(e.Why) == 0 {
		return e.Reasons
	}
	out := make([]string, len(e.Why))
	for i, r := range e.Why {
		out[i] = reasonText(lang, r)
	}
	return out
}
