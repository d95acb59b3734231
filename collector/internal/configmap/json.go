package configmap

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// assetJSON is an asset as the map's JSON carries it, keyed as the assets
// API names the fields.
type assetJSON struct {
	Tag         string    `json:"asset_tag"`
	Type        string    `json:"type"`
	Serial      string    `json:"serial,omitempty"`
	MACs        []string  `json:"macs,omitempty"`
	Hostname    string    `json:"hostname,omitempty"`
	OwnerUnit   string    `json:"owner_unit,omitempty"`
	Responsible string    `json:"responsible,omitempty"`
	OperatedBy  string    `json:"operated_by,omitempty"`
	Building    string    `json:"building,omitempty"`
	Room        string    `json:"room,omitempty"`
	Zone        string    `json:"zone,omitempty"`
	Status      string    `json:"status"`
	Note        string    `json:"note,omitempty"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
}

// entryJSON is the JSON form of an Entry.
type entryJSON struct {
	Key      string     `json:"key"`
	State    State      `json:"state"`
	Kind     string     `json:"kind"`
	Asset    *assetJSON `json:"asset,omitempty"`
	AgentIDs []string   `json:"agent_ids,omitempty"`
	Hostname string     `json:"hostname,omitempty"`
	Serial   string     `json:"serial,omitempty"`
	Zone     string     `json:"zone,omitempty"`
	Unit     string     `json:"unit,omitempty"`
	MACs     []string   `json:"macs,omitempty"`
	IPs      []string   `json:"ips,omitempty"`
	LastSeen time.Time  `json:"last_seen,omitzero"`
	Reasons  []string   `json:"reasons,omitempty"`
	Why      []Reason   `json:"why,omitempty"`
}

// MarshalJSON renders the entry with snake_case keys and its key.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{Key: e.Key(), State: e.State, Kind: e.Kind, AgentIDs: e.AgentIDs, Hostname: e.Hostname,
		Serial: e.Serial, Zone: e.Zone, Unit: e.Unit, MACs: e.MACs, IPs: e.IPs, LastSeen: e.LastSeen, Reasons: e.Reasons, Why: e.Why}
	if a := e.Asset; a != nil {
		j.Asset = &assetJSON{a.Tag, a.Type, a.Serial, a.MACs, a.Hostname, a.OwnerUnit, a.Responsible, a.OperatedBy,
			a.Building, a.Room, a.Zone, a.Status, a.Note, a.UpdatedAt, a.UpdatedBy}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Entry{State: j.State, Kind: j.Kind, AgentIDs: j.AgentIDs, Hostname: j.Hostname, Serial: j.Serial,
		Zone: j.Zone, Unit: j.Unit, MACs: j.MACs, IPs: j.IPs, LastSeen: j.LastSeen, Reasons: j.Reasons, Why: j.Why}
	if a := j.Asset; a != nil {
		e.Asset = &model.Asset{Tag: a.Tag, Type: a.Type, Serial: a.Serial, MACs: a.MACs, Hostname: a.Hostname,
			OwnerUnit: a.OwnerUnit, Responsible: a.Responsible, OperatedBy: a.OperatedBy, Building: a.Building,
			Room: a.Room, Zone: a.Zone, Status: a.Status, Note: a.Note, UpdatedAt: a.UpdatedAt, UpdatedBy: a.UpdatedBy}
	}
	return nil
}

// linkJSON is the JSON form of a Link.
type linkJSON struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Flows   int    `json:"flows"`
	Allowed bool   `json:"allowed"`
}

// mapJSON is the JSON form of a Map.
type mapJSON struct {
	At      time.Time     `json:"at"`
	Counts  map[State]int `json:"counts"`
	Entries []Entry       `json:"entries"`
	Links   []linkJSON    `json:"links"`
}

// MarshalJSON renders the map with snake_case keys; every state has a count.
func (m Map) MarshalJSON() ([]byte, error) {
	j := mapJSON{At: m.At, Counts: map[State]int{}, Entries: m.Entries, Links: make([]linkJSON, 0, len(m.Links))}
	for _, s := range States {
		j.Counts[s] = m.Counts[s]
	}
	if j.Entries == nil {
		j.Entries = []Entry{}
	}
	for _, l := range m.Links {
		j.Links = append(j.Links, linkJSON(l))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (m *Map) UnmarshalJSON(b []byte) error {
	var j mapJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Map{At: j.At, Counts: j.Counts, Entries: j.Entries}
	if m.Counts == nil {
		m.Counts = map[State]int{}
	}
	for _, l := range j.Links {
		m.Links = append(m.Links, Link(l))
	}
	return nil
}

// Encode returns the map as a snapshot to store: its JSON and counts.
func Encode(m Map, takenBy, note string) (model.MapSnapshot, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return model.MapSnapshot{}, fmt.Errorf("encode configuration map: %w", err)
	}
	counts := make(map[string]int, len(States))
	for _, s := range States {
		counts[string(s)] = m.Counts[s]
	}
	return model.MapSnapshot{At: m.At, TakenBy: takenBy, Note: note, JSON: b, Counts: counts}, nil
}

// Decode returns the map a snapshot holds.
func Decode(s model.MapSnapshot) (Map, error) {
	var m Map
	if err := json.Unmarshal(s.JSON, &m); err != nil {
		return Map{}, fmt.Errorf("decode configuration map snapshot %d: %w", s.ID, err)
	}
	return m, nil
}
