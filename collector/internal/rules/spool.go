package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// SpoolInput is one health record of an agent with what the collector knew
// of the agent's spool drops before it.
type SpoolInput struct {
	AgentID  string
	Hostname string // "" when not known; the title then names the agent id
	Seq      uint64 // the health record's seq, for the evidence link
	At       time.Time
	Health   wire.Health
	// Known is the agent's lifetime drop count (Health.SpoolDropped) that
	// was already judged: the highest count an earlier health record
	// reported, or the count the newest spool-dropped deviation of the
	// agent was opened with; 0 when none.
	Known uint64
}

// Facts of spool-dropped (Finding.Facts; the UI translates them as
// fact.<key>):
//
//	dropped        the agent's lifetime count of records dropped from its spool
//	new_drops      how many of them are new since the count already judged
//	spool_records  records waiting in the spool at the health record
//	spool_bytes    bytes of the spool on disk at the health record
//	hostname       the host, when known
const (
	FactDropped  = "dropped"
	FactNewDrops = "new_drops"
)

// SpoolSubject is the subject of an agent's spool-dropped findings.
func SpoolSubject(agentID string) string { return "spool:" + agentID }

// SpoolDropped judges one health record with the rule spool-dropped: it
// fires when the agent reports more records dropped from its spool (its
// bound was reached, the disk was full, or a damaged file was cut out) than
// the collector already judged (in.Known). The count is the spool's
// lifetime count, persisted by the agent, so a health record resent or
// repeated reports nothing new; a count below Known (the agent's spool was
// wiped) reports nothing either, and the caller takes the lower count as
// known from then on. The store dedupes findings into one open deviation
// per agent (subject "spool:<agent id>"); drops reported after it closed
// open a new one.
func SpoolDropped(in SpoolInput, cfg Config) (model.Finding, bool) {
	if !cfg.Enabled(SpoolDrops) || in.Health.SpoolDropped <= in.Known {
		return model.Finding{}, false
	}
	f := cfg.finding(SpoolDrops)
	f.Subject, f.AgentID, f.At = SpoolSubject(in.AgentID), in.AgentID, in.At
	f.Facts = map[string]string{
		FactDropped:     strconv.FormatUint(in.Health.SpoolDropped, 10),
		FactNewDrops:    strconv.FormatUint(in.Health.SpoolDropped-in.Known, 10),
		"spool_records": strconv.FormatUint(in.Health.SpoolRecords, 10),
		"spool_bytes":   strconv.FormatUint(in.Health.SpoolBytes, 10),
	}
	host := in.AgentID
	if in.Hostname != "" {
		f.Facts["hostname"] = clip(in.Hostname)
		host = clip(in.Hostname) + " (agent " + in.AgentID + ")"
	}
	f.Title = fmt.Sprintf("Agent on %s dropped %d unsent records from its spool (%d in all): what it observed is incomplete",
		host, in.Health.SpoolDropped-in.Known, in.Health.SpoolDropped)
	if in.Seq != 0 {
		f.Evidence = []model.EvidenceRef{{AgentID: in.AgentID, Seq: in.Seq, Kind: string(wire.KindHealth)}}
	}
	return f, true
}
