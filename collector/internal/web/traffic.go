package web

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Limits and defaults of the zone, traffic and neighbour pages and API.
const (
	defaultFlowLimit  = 100  // API, without ?limit=
	maxFlowLimit      = 1000 // API and page
	flowPageRows      = 100  // the flow list of the traffic page
	hostFlowRows      = 20   // the flows section of the host page
	defaultFlowPeriod = 7 * 24 * time.Hour
	dateLayout        = "2006-01-02"
)

// flowVerdicts are the values ?verdict= takes.
var flowVerdicts = []string{wire.VerdictAllowed, wire.VerdictDenied, wire.VerdictNoMap}

// zoneMap returns the current zone map; nil when none is loaded.
func (s *Server) zoneMap() *zone.Map {
	if s.zones == nil {
		return nil
	}
	return s.zones()
}

// trafficStore returns the traffic store, or a refusal the client reads
// when the collector was started without one.
func (s *Server) trafficStore() (model.TrafficStore, error) {
	if s.traffic == nil {
		return nil, refuse(model.ErrNotFound, "problem.no_traffic")
	}
	return s.traffic, nil
}

// queryTime reads a time parameter: RFC 3339, or a date (YYYY-MM-DD) in the
// server's zone. A date in a parameter that ends a period (end) means the
// end of that day, so that the day is included. The zero time without one.
func queryTime(r *http.Request, name string, end bool) (time.Time, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(dateLayout, v, time.Local)
	if err != nil {
		return time.Time{}, refuse(model.ErrInvalid, "problem.time", name)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// queryPeriod reads ?from= and ?to=; a missing end is left zero. from must
// come before to when both are given.
func queryPeriod(r *http.Request) (from, to time.Time, err error) {
	if from, err = queryTime(r, "from", false); err != nil {
		return from, to, err
	}
	if to, err = queryTime(r, "to", true); err != nil {
		return from, to, err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, refuse(model.ErrInvalid, "problem.period")
	}
	return from, to, nil
}

// defaultPeriod fills the ends queryPeriod left zero: to is the end of the
// current hour, from is defaultFlowPeriod before to.
func (s *Server) defaultPeriod(from, to time.Time) (time.Time, time.Time, error) {
	if to.IsZero() {
		to = s.now().Truncate(time.Hour).Add(time.Hour)
		if !from.IsZero() && !from.Before(to) {
			return from, to, refuse(model.ErrInvalid, "problem.period")
		}
	}
	if from.IsZero() {
		from = to.Add(-defaultFlowPeriod)
	}
	return from, to, nil
}

// flowFilter is the flow list's query.
type flowFilter struct {
	model.FlowQuery
}

// flowQuery reads the flow list's parameters: agent, zone, src_zone,
// dst_zone, from, to, verdict and limit.
func flowQuery(r *http.Request, defLimit int) (flowFilter, error) {
	var f flowFilter
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"agent", &f.AgentID}, {"zone", &f.Zone}, {"src_zone", &f.SrcZone}, {"dst_zone", &f.DstZone}} {
		if *p.dst, err = queryParam(r, p.name); err != nil {
			return f, err
		}
	}
	if f.From, f.To, err = queryPeriod(r); err != nil {
		return f, err
	}
	v := strings.TrimSpace(r.URL.Query().Get("verdict"))
	if v != "" && !slices.Contains(flowVerdicts, v) {
		return f, refuse(model.ErrInvalid, "problem.verdict", strings.Join(flowVerdicts, ", "))
	}
	f.Verdict = v
	if f.Limit, err = queryLimit(r, defLimit, maxFlowLimit); err != nil {
		return f, err
	}
	return f, nil
}

// flows runs f and returns at most f.Limit rows, and whether there are more.
func (s *Server) flows(r *http.Request, f flowFilter) ([]model.FlowHour, bool, error) {
	st, err := s.trafficStore()
	if err != nil {
		return nil, false, err
	}
	q := f.FlowQuery
	q.Limit = f.Limit + 1
	rows, err := st.Flows(r.Context(), q)
	if err != nil {
		return nil, false, fmt.Errorf("flows: %w", err)
	}
	if len(rows) > f.Limit {
		return rows[:f.Limit], true, nil
	}
	return rows, false, nil
}

// judge says what the current firewall map makes of a flow: a Verdict…
// value and the rule that allows it.
func judge(m *zone.Map, h model.FlowHour) (verdict, rule string) {
	if m == nil {
		return wire.VerdictNoMap, ""
	}
	if r, ok := m.Allowed(zone.Flow{From: h.SrcZone, To: h.DstZone, Proto: h.Proto, Port: h.DPort}); ok {
		return wire.VerdictAllowed, r.ID
	}
	return wire.VerdictDenied, ""
}

// pairRules returns the ids of the map's rules by zone pair, in file order.
func pairRules(m *zone.Map) map[[2]string][]string {
	out := make(map[[2]string][]string)
	for _, r := range m.Rules() {
		k := [2]string{r.From, r.To}
		out[k] = append(out[k], r.ID)
	}
	return out
}

// --- API ---

// apiFlow is one hourly flow in the JSON API. Verdict and Rule are the
// agent's judgement; CurrentVerdict and CurrentRule the current firewall
// map's.
type apiFlow struct {
	ID             int64  `json:"id"`
	Hour           string `json:"hour"`
	AgentID        string `json:"agent_id"`
	Hostname       string `json:"hostname,omitempty"`
	Seq            uint64 `json:"seq"`
	Src            string `json:"src"`
	Dst            string `json:"dst"`
	Proto          string `json:"proto"`
	DPort          uint16 `json:"dport"`
	SrcZone        string `json:"src_zone"`
	DstZone        string `json:"dst_zone"`
	Process        string `json:"process,omitempty"`
	User           string `json:"user,omitempty"`
	Packets        uint64 `json:"packets"`
	Bytes          uint64 `json:"bytes"`
	First          string `json:"first,omitempty"`
	Last           string `json:"last,omitempty"`
	Verdict        string `json:"verdict"`
	Rule           string `json:"rule,omitempty"`
	Evaluated      bool   `json:"evaluated"`
	CurrentVerdict string `json:"current_verdict"`
	CurrentRule    string `json:"current_rule,omitempty"`
}

func newAPIFlow(m *zone.Map, h model.FlowHour) apiFlow {
	v, rule := judge(m, h)
	return apiFlow{
		ID: h.ID, Hour: apiTime(h.Hour), AgentID: h.AgentID, Hostname: h.Hostname, Seq: h.Seq,
		Src: h.Src, Dst: h.Dst, Proto: h.Proto, DPort: h.DPort, SrcZone: h.SrcZone, DstZone: h.DstZone,
		Process: h.Process, User: h.User, Packets: h.Packets, Bytes: h.Bytes,
		First: apiTime(h.First), Last: apiTime(h.Last), Verdict: h.Verdict, Rule: h.Rule,
		Evaluated: h.Evaluated, CurrentVerdict: v, CurrentRule: rule,
	}
}

// apiFlows is a list of hourly flows, newest first; More reports whether the
// limit left some out.
type apiFlows struct {
	Flows []apiFlow `json:"flows"`
	More  bool      `json:"more"`
}

func (s *Server) handleAPIFlows(w http.ResponseWriter, r *http.Request) {
	f, err := flowQuery(r, defaultFlowLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows, more, err := s.flows(r, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m := s.zoneMap()
	out := apiFlows{Flows: make([]apiFlow, 0, len(rows)), More: more}
	for _, h := range rows {
		out.Flows = append(out.Flows, newAPIFlow(m, h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAPIZones(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.zoneMap().Policy())
}

// apiZonePair is one cell of the zone flow matrix in the JSON API: what was
// observed, and whether the current firewall map has any rule from the one
// zone to the other (Rules names them).
type apiZonePair struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Flows   int      `json:"flows"`
	Hosts   int      `json:"hosts"`
	Packets uint64   `json:"packets"`
	Bytes   uint64   `json:"bytes"`
	Denied  int      `json:"denied"`
	First   string   `json:"first,omitempty"`
	Last    string   `json:"last,omitempty"`
	Allowed bool     `json:"allowed"`
	Rules   []string `json:"rules"`
}

// apiZoneMatrix is the zone flow matrix of [From, To). Judged reports
// whether a firewall map was loaded to judge by; without one nothing is
// allowed.
type apiZoneMatrix struct {
	From   string        `json:"from"`
	To     string        `json:"to"`
	Judged bool          `json:"judged"`
	Pairs  []apiZonePair `json:"pairs"`
}

// zoneMatrix reads ?from= and ?to= (the last defaultFlowPeriod without them)
// and returns the period and its zone pairs.
func (s *Server) zoneMatrix(r *http.Request) (from, to time.Time, pairs []model.ZonePair, err error) {
	if from, to, err = queryPeriod(r); err != nil {
		return from, to, nil, err
	}
	if from, to, err = s.defaultPeriod(from, to); err != nil {
		return from, to, nil, err
	}
	st, err := s.trafficStore()
	if err != nil {
		return from, to, nil, err
	}
	pairs, err = st.ZoneMatrix(r.Context(), from, to)
	if err != nil {
		return from, to, nil, fmt.Errorf("zone matrix: %w", err)
	}
	return from, to, pairs, nil
}

func (s *Server) handleAPIZoneMatrix(w http.ResponseWriter, r *http.Request) {
	from, to, pairs, err := s.zoneMatrix(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m := s.zoneMap()
	rules := pairRules(m)
	out := apiZoneMatrix{From: apiTime(from), To: apiTime(to), Judged: m != nil, Pairs: make([]apiZonePair, 0, len(pairs))}
	for _, p := range pairs {
		ids := rules[[2]string{p.From, p.To}]
		out.Pairs = append(out.Pairs, apiZonePair{
			From: p.From, To: p.To, Flows: p.Flows, Hosts: p.Hosts, Packets: p.Packets, Bytes: p.Bytes,
			Denied: p.Denied, First: apiTime(p.First), Last: apiTime(p.Last),
			Allowed: len(ids) > 0, Rules: nonNil(ids),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiNeighbour is one device seen on the wire in the JSON API.
type apiNeighbour struct {
	MAC          string   `json:"mac"`
	IPs          []string `json:"ips"`
	Name         string   `json:"name,omitempty"`
	Vendor       string   `json:"vendor,omitempty"`
	VendorClass  string   `json:"vendor_class,omitempty"`
	SeenBy       []string `json:"seen_by"`        // protocols, wire.Via…
	SeenByAgents []string `json:"seen_by_agents"` // agent ids
	First        string   `json:"first,omitempty"`
	Last         string   `json:"last,omitempty"`
	Port         string   `json:"port,omitempty"`
	Platform     string   `json:"platform,omitempty"`
	VLAN         uint16   `json:"vlan,omitempty"`
	UpdatedAt    string   `json:"updated_at,omitempty"`
}

// unixNano turns wire nanoseconds into a time; zero stays zero.
func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (s *Server) neighbours(r *http.Request) ([]model.Neighbour, error) {
	st, err := s.trafficStore()
	if err != nil {
		return nil, err
	}
	ns, err := st.Neighbours(r.Context())
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	return ns, nil
}

func (s *Server) handleAPINeighbours(w http.ResponseWriter, r *http.Request) {
	ns, err := s.neighbours(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]apiNeighbour, 0, len(ns))
	for _, n := range ns {
		out = append(out, apiNeighbour{
			MAC: n.MAC, IPs: nonNil(n.IPs), Name: n.Name, Vendor: n.Vendor, VendorClass: n.VendorClass,
			SeenBy: nonNil(n.SeenBy), SeenByAgents: nonNil(n.SeenByAgents),
			First: apiTime(unixNano(n.First)), Last: apiTime(unixNano(n.Last)),
			Port: n.Port, Platform: n.Platform, VLAN: n.VLAN, UpdatedAt: apiTime(n.UpdatedAt),
		})
	}
	writeJSON(w, http.StatusOK, struct {
		Neighbours []apiNeighbour `json:"neighbours"`
	}{out})
}

// --- pages ---

// zoneRow is one zone as the zones page shows it.
type zoneRow struct {
	Name, Kind, KindLabel, Purpose, Parent string
	Prefixes                               []string
	Implicit                               bool // the external zone the file did not list
}

// ruleRow is one firewall rule as the zones page shows it.
type ruleRow struct {
	ID, From, To, Proto, Justification, Owner string
	Ports                                     []string // empty for every port
	Line                                      int
}

// zonesView is the zones page.
type zonesView struct {
	Loaded bool
	Zones  []zoneRow
	Rules  []ruleRow
}

func newZonesView(lang string, m *zone.Map) zonesView {
	v := zonesView{Loaded: m != nil}
	if m == nil {
		return v
	}
	listed := len(m.Policy().Zones)
	for i, z := range m.Zones() {
		row := zoneRow{
			Name: z.Name, Kind: z.Level, KindLabel: translateOr(lang, "zone.kind."+z.Level, z.Level),
			Purpose: z.Purpose, Parent: z.Parent, Implicit: i >= listed,
		}
		for _, p := range z.CIDRs {
			row.Prefixes = append(row.Prefixes, p.String())
		}
		v.Zones = append(v.Zones, row)
	}
	for _, r := range m.Rules() {
		row := ruleRow{ID: r.ID, From: r.From, To: r.To, Justification: r.Justification, Owner: r.Owner, Line: r.Line}
		row.Proto = r.Proto
		if row.Proto == "" || row.Proto == "any" {
			row.Proto = translate(lang, "zones.any_proto")
		}
		for _, p := range r.Ports {
			row.Ports = append(row.Ports, p.String())
		}
		v.Rules = append(v.Rules, row)
	}
	return v
}

func (s *Server) handleZonesPage(w http.ResponseWriter, r *http.Request) {
	v := newZonesView(langFrom(r.Context()), s.zoneMap())
	s.render(w, r, http.StatusOK, "zones", pageData{Title: "zones.title", Nav: "zones", Data: v})
}

// flowRow is one hourly flow as the pages show it, its words already in the
// page's language.
type flowRow struct {
	Hour                       time.Time
	AgentID, Host              string
	Src, Dst, SrcZone, DstZone string
	Service                    string // "tcp/443", "icmp 8/0"
	Process, User              string
	Packets                    int64
	Bytes                      uint64
	// Agent is the agent's judgement, Current the current firewall map's.
	Agent, Current verdictView
}

// verdictView is a judgement of a flow: a wire.Verdict… value (for the
// badge's look), its label, and the rule that allowed the flow.
type verdictView struct {
	Verdict, Label, Rule string
}

// service spells out a flow's protocol and destination port.
func service(proto string, port uint16) string {
	switch proto {
	case wire.ProtoTCP, wire.ProtoUDP:
		return proto + "/" + strconv.Itoa(int(port))
	case wire.ProtoICMP, wire.ProtoICMPv6:
		return proto + " " + strconv.Itoa(int(port>>8)) + "/" + strconv.Itoa(int(port&0xff))
	}
	if port != 0 {
		return proto + "/" + strconv.Itoa(int(port))
	}
	return proto
}

func flowRows(lang string, m *zone.Map, hs []model.FlowHour) []flowRow {
	out := make([]flowRow, 0, len(hs))
	for _, h := range hs {
		now, nowRule := judge(m, h)
		out = append(out, flowRow{
			Hour: h.Hour, AgentID: h.AgentID, Host: cmp.Or(h.Hostname, h.AgentID),
			Src: h.Src, Dst: h.Dst, SrcZone: h.SrcZone, DstZone: h.DstZone,
			Service: service(h.Proto, h.DPort), Process: h.Process, User: h.User,
			Packets: int64(min(h.Packets, math.MaxInt64)), Bytes: h.Bytes,
			Agent:   verdictView{h.Verdict, translateOr(lang, "flow.verdict."+h.Verdict, h.Verdict), h.Rule},
			Current: verdictView{now, translate(lang, "flow.verdict."+now), nowRule},
		})
	}
	return out
}

// flowTable is what the flowtable template gets.
type flowTable struct {
	Rows       []flowRow
	ShowHost   bool   // a column for the host (off on the host's own page)
	LabelledBy string // id of the heading that names the table
}

// matrixCell is one cell of the zone flow matrix on the traffic page.
type matrixCell struct {
	From, To string
	Same     bool // the diagonal: traffic inside a zone is not in the matrix
	Observed bool // traffic went from From to To in the period
	Pair     model.ZonePair
	Judged   bool // a firewall map is loaded
	Allowed  bool // it has a rule from From to To
	Rules    []string
	Href     string // the flow list of the pair
}

// matrixRow is one row of the matrix: the cells from one zone.
type matrixRow struct {
	From  string
	Cells []matrixCell
}

// matrixView is the zone flow matrix: rows are source zones, columns
// destination zones, in the map's order, then any zone only the traffic
// names.
type matrixView struct {
	Zones      []string
	Rows       []matrixRow
	Judged     bool
	Observed   int // cells with traffic
	NotAllowed int // cells with traffic and no rule
}

func newMatrixView(m *zone.Map, pairs []model.ZonePair, link func(src, dst string) string) matrixView {
	v := matrixView{Judged: m != nil}
	for _, z := range m.Zones() {
		v.Zones = append(v.Zones, z.Name)
	}
	var extra []string
	observed := make(map[[2]string]model.ZonePair, len(pairs))
	for _, p := range pairs {
		observed[[2]string{p.From, p.To}] = p
		for _, z := range []string{p.From, p.To} {
			if !slices.Contains(v.Zones, z) && !slices.Contains(extra, z) {
				extra = append(extra, z)
			}
		}
	}
	slices.Sort(extra)
	v.Zones = append(v.Zones, extra...)
	rules := pairRules(m)
	for _, from := range v.Zones {
		row := matrixRow{From: from}
		for _, to := range v.Zones {
			c := matrixCell{From: from, To: to, Same: from == to, Judged: v.Judged}
			c.Pair, c.Observed = observed[[2]string{from, to}]
			c.Rules = rules[[2]string{from, to}]
			c.Allowed = len(c.Rules) > 0
			if c.Observed {
				c.Href = link(from, to)
				v.Observed++
				if !c.Allowed {
					v.NotAllowed++
				}
			}
			row.Cells = append(row.Cells, c)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// flowsView is the traffic page.
type flowsView struct {
	From, To         time.Time // the period, [From, To)
	FromDate, ToDate string    // the period as the form shows it; ToDate is its last day
	Matrix           matrixView
	Table            flowTable
	More             bool
	Hosts            []model.HostSummary // for the host filter
	Agent, Zone      string
	SrcZone, DstZone string
	Verdicts         []option
	Filtered         bool
}

func (s *Server) handleFlowsPage(w http.ResponseWriter, r *http.Request) {
	f, err := flowQuery(r, flowPageRows)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.From, f.To, err = s.defaultPeriod(f.From, f.To); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.trafficStore()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pairs, err := st.ZoneMatrix(r.Context(), f.From, f.To)
	if err != nil {
		s.fail(w, r, fmt.Errorf("zone matrix: %w", err))
		return
	}
	rows, more, err := s.flows(r, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hosts, err := s.store.ListHosts(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list hosts: %w", err))
		return
	}
	lang := langFrom(r.Context())
	m := s.zoneMap()
	q := r.URL.Query()
	period := url.Values{}
	for _, k := range []string{"from", "to"} {
		if v := q.Get(k); v != "" {
			period.Set(k, v)
		}
	}
	link := func(src, dst string) string {
		u := url.Values{"src_zone": {src}, "dst_zone": {dst}}
		for k, v := range period {
			u[k] = v
		}
		return "/flows?" + u.Encode() + "#flows-title"
	}
	v := flowsView{
		From: f.From, To: f.To,
		FromDate: f.From.Local().Format(dateLayout), ToDate: f.To.Add(-time.Nanosecond).Local().Format(dateLayout),
		Matrix: newMatrixView(m, pairs, link),
		Table:  flowTable{Rows: flowRows(lang, m, rows), ShowHost: true, LabelledBy: "flows-title"},
		More:   more, Hosts: hosts,
		Agent: f.AgentID, Zone: f.Zone, SrcZone: f.SrcZone, DstZone: f.DstZone,
		Filtered: f.AgentID != "" || f.Zone != "" || f.SrcZone != "" || f.DstZone != "" || f.Verdict != "",
	}
	v.Verdicts = append(v.Verdicts, option{"", translate(lang, "flows.filter.all_verdicts"), f.Verdict == ""})
	for _, vd := range flowVerdicts {
		v.Verdicts = append(v.Verdicts, option{vd, translate(lang, "flow.verdict."+vd), f.Verdict == vd})
	}
	s.render(w, r, http.StatusOK, "flows", pageData{Title: "flows.title", Nav: "flows", Data: v})
}

// hostFlows returns the host's newest hourly flows for its page, and whether
// there are more; nothing when the collector keeps no traffic.
func (s *Server) hostFlows(r *http.Request, id string) ([]flowRow, bool, error) {
	if s.traffic == nil {
		return nil, false, nil
	}
	rows, more, err := s.flows(r, flowFilter{FlowQuery: model.FlowQuery{AgentID: id, Limit: hostFlowRows}})
	if err != nil {
		return nil, false, err
	}
	return flowRows(langFrom(r.Context()), s.zoneMap(), rows), more, nil
}

// agentLink is an agent as a link to its host page.
type agentLink struct {
	ID, Name string
}

// neighbourRow is one device seen on the wire as the neighbours page shows
// it.
type neighbourRow struct {
	MAC, Vendor, VendorClass, Name, Port, Platform string
	VLAN                                           uint16
	IPs                                            []string
	Via                                            []string // protocol names
	Agents                                         []agentLink
	First, Last                                    time.Time
}

// neighboursView is the neighbours page.
type neighboursView struct {
	Rows []neighbourRow
}

func (s *Server) handleNeighboursPage(w http.ResponseWriter, r *http.Request) {
	ns, err := s.neighbours(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hosts, err := s.store.ListHosts(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list hosts: %w", err))
		return
	}
	names := make(map[string]string, len(hosts))
	for _, h := range hosts {
		names[h.ID] = hostname(h)
	}
	lang := langFrom(r.Context())
	v := neighboursView{Rows: make([]neighbourRow, 0, len(ns))}
	for _, n := range ns {
		row := neighbourRow{
			MAC: n.MAC, Vendor: n.Vendor, VendorClass: n.VendorClass, Name: n.Name,
			Port: n.Port, Platform: n.Platform, VLAN: n.VLAN, IPs: n.IPs,
			First: unixNano(n.First), Last: unixNano(n.Last),
		}
		for _, via := range n.SeenBy {
			row.Via = append(row.Via, translateOr(lang, "via."+via, via))
		}
		for _, id := range n.SeenByAgents {
			row.Agents = append(row.Agents, agentLink{ID: id, Name: cmp.Or(names[id], id)})
		}
		v.Rows = append(v.Rows, row)
	}
	s.render(w, r, http.StatusOK, "neighbours", pageData{Title: "neighbours.title", Nav: "neighbours", Data: v})
}

// matrixPart is what the "zonematrix" template needs: the matrix, the id of
// the heading that names it, and whether to show only flow counts (the
// configuration map) rather than hosts, bytes, denials and rules too.
type matrixPart struct {
	M       matrixView
	TitleID string
	Compact bool
}

// newMatrixPart takes a matrixView or a *matrixView, as pages hold them.
func newMatrixPart(m any, titleID string, compact bool) matrixPart {
	switch v := m.(type) {
	case *matrixView:
		return matrixPart{M: *v, TitleID: titleID, Compact: compact}
	case matrixView:
		return matrixPart{M: v, TitleID: titleID, Compact: compact}
	}
	return matrixPart{TitleID: titleID, Compact: compact}
}
