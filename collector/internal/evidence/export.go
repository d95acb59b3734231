package evidence

import (
	"archive/zip"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Source is what an export reads: the chain, the period's streams and the
// registers. The SQL store (SQLite or PostgreSQL) is one.
type Source interface {
	ChainStore
	model.EvidenceStore
	Assets(ctx context.Context) ([]model.Asset, error)
	MediaRegister(ctx context.Context) ([]model.MediaEntry, error)
	SoftwareCatalog(ctx context.Context) ([]model.SoftwareEntry, error)
	Units(ctx context.Context) ([]model.Unit, error)
	People(ctx context.Context) ([]model.Person, error)
	SupplierPeople(ctx context.Context) ([]model.SupplierPerson, error)
	SharedSolutions(ctx context.Context) ([]model.SharedSolution, error)
	BreachRegister(ctx context.Context) ([]model.BreachEntry, error)
	ListAgents(ctx context.Context) ([]model.Agent, error)
	ZoneMatrix(ctx context.Context, from, to time.Time) ([]model.ZonePair, error)
	EachHostSoftware(ctx context.Context, fn func(agentID, hostname string, pkgs []wire.Package) error) error
	ListMapSnapshots(ctx context.Context, limit int) ([]model.MapSnapshot, error)
	GetMapSnapshot(ctx context.Context, id int64) (model.MapSnapshot, error)
}

// Options say what to export and how.
type Options struct {
	From, To time.Time // the period, [From, To)
	Key      ed25519.PrivateKey
	Actor    string // who exports: a user name or "cli:<user>"
	Version  string // the collector's version, for the manifest
	Now      func() time.Time
	// BuildMap builds the current configuration map; used when no snapshot
	// stands at or before the period's end. Nil: configmap.json and
	// coverage.csv come from snapshots only (empty without one).
	BuildMap func(ctx context.Context) (configmap.Map, error)
	// Allowed judges a zone pair by the firewall map; nil when no zones file
	// is configured (the matrix then says "unknown").
	Allowed func(from, to string) bool
}

// AuditExport is the audit action of an export.
const AuditExport = "evidence.export"

// maxSnapshots bounds the snapshots looked through for the period's ends
// (a daily snapshot gives ten years).
const maxSnapshots = 4000

// Export writes the evidence bundle for the period to w as one zip,
// streaming: content files first, each hashed as it is written, then the
// manifest and its signature. Before the manifest it appends an audit entry
// (evidence.export) and a signed checkpoint of it; the bundle's audit
// segment runs from the first entry of the period to that entry.
func Export(ctx context.Context, w io.Writer, src Source, opt Options) (Manifest, error) {
	if opt.Key == nil {
		return Manifest{}, errors.New("evidence export: no signing key")
	}
	if !opt.From.Before(opt.To) {
		return Manifest{}, fmt.Errorf("evidence export: period %s to %s is empty: %w", ts(opt.From), ts(opt.To), model.ErrInvalid)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	created := now().UTC()
	pub := opt.Key.Public().(ed25519.PublicKey)
	b := &bundle{zw: zip.NewWriter(w), now: created}
	counts := map[string]int{}
	steps := []struct {
		name string
		fn   func(context.Context, *bundle, Source, Options) (int, error)
	}{
		{"deviations.csv", writeDeviations},
		{"deviation-timeline.csv", writeTimeline},
		{"breaches.csv", writeBreaches},
		{"assets.csv", writeAssets},
		{"media-register.csv", writeMediaRegister},
		{"software-catalog.csv", writeSoftwareCatalog},
		{"org-units.csv", writeOrgUnits},
		{"org-people.csv", writeOrgPeople},
		{"org-suppliers.csv", writeOrgSuppliers},
		{"org-shared-solutions.csv", writeOrgShared},
		{"media-events.csv", writeMediaEvents},
		{"agents.csv", writeAgents},
		{"flows-zone-matrix.csv", writeZoneMatrix},
		{"software-summary.csv", writeSoftwareSummary},
		{"configmap.json", writeConfigMap}, // also coverage.csv and configmap-changes.csv
	}
	for _, s := range steps {
		n, err := s.fn(ctx, b, src, opt)
		if err != nil {
			return Manifest{}, fmt.Errorf("evidence export: %w", err)
		}
		counts[s.name] = n
	}

	// The export is itself a state change: audit it, sign the chain at it.
	detail, _ := json.Marshal(map[string]string{"from": ts(opt.From), "to": ts(opt.To), "key": Fingerprint(pub)})
	exportSeq, err := src.AppendAudit(ctx, model.AuditEvent{At: created, Actor: opt.Actor, Action: AuditExport,
		Subject: "period " + ts(opt.From) + " to " + ts(opt.To), Detail: string(detail)})
	if err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	var head model.AuditEntry
	if err := src.EachAuditEntry(ctx, exportSeq, exportSeq, func(e model.AuditEntry) error { head = e; return nil }); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	if head.Seq != exportSeq {
		return Manifest{}, fmt.Errorf("evidence export: audit entry %d not found after appending it", exportSeq)
	}
	cp := SignCheckpoint(opt.Key, head, created)
	if _, err := src.SaveAuditCheckpoint(ctx, cp); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	chain, n, err := writeAuditSegment(ctx, b, src, opt.From, head)
	if err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	counts[AuditLogFile] = n
	if counts[CheckpointsFile], err = writeCheckpoints(ctx, b, src, chain, Fingerprint(pub)); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	if err := writeControls(b, counts); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}

	m := Manifest{
		Format: Format, Period: Period{From: ts(opt.From), To: ts(opt.To)},
		CreatedAt: ts(created), CreatedBy: opt.Actor,
		Collector: Collector{KeyFingerprint: Fingerprint(pub), PublicKey: base64.StdEncoding.EncodeToString(pub), Version: opt.Version},
		Chain:     chain, Files: b.files,
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	mb = append(mb, '\n')
	if err := b.file(ManifestFile, false, func(w io.Writer) error { _, err := w.Write(mb); return err }); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(opt.Key, mb)) + "\n"
	if err := b.file(SignatureFile, false, func(w io.Writer) error { _, err := io.WriteString(w, sig); return err }); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	if err := b.zw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	return m, nil
}

// auditLine is one line of audit/audit-log.jsonl. AtNanos is what the hash
// covers; At is the same moment for people.
type auditLine struct {
	Seq     int64  `json:"seq"`
	At      string `json:"at"`
	AtNanos int64  `json:"at_ns"`
	Actor   string `json:"actor"`
	Action  string `json:"action"`
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
	Hash    string `json:"hash"`
}

func writeAuditSegment(ctx context.Context, b *bundle, src Source, from time.Time, head model.AuditEntry) (Chain, int, error) {
	first, err := src.FirstAuditSeqSince(ctx, from)
	if err != nil {
		return Chain{}, 0, err
	}
	if first == 0 || first > head.Seq {
		first = head.Seq
	}
	prev := model.GenesisHash
	if first > 1 {
		prev = nil
		if err := src.EachAuditEntry(ctx, first-1, first-1, func(e model.AuditEntry) error { prev = e.Hash; return nil }); err != nil {
			return Chain{}, 0, err
		}
		if prev == nil {
			return Chain{}, 0, fmt.Errorf("audit entry %d, before the period's first, is missing: run 'sonevakt-collector evidence check'", first-1)
		}
	}
	n := 0
	err = b.file(AuditLogFile, true, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return src.EachAuditEntry(ctx, first, head.Seq, func(e model.AuditEntry) error {
			n++
			return enc.Encode(auditLine{Seq: e.Seq, At: atText(e.AtNanos), AtNanos: e.AtNanos, Actor: e.Actor,
				Action: e.Action, Subject: e.Subject, Detail: e.Detail, Hash: hex.EncodeToString(e.Hash)})
		})
	})
	if err != nil {
		return Chain{}, 0, err
	}
	return Chain{FirstSeq: first, PrevHash: hex.EncodeToString(prev), HeadSeq: head.Seq, HeadHash: hex.EncodeToString(head.Hash)}, n, nil
}

// atText renders stored nanoseconds as RFC 3339 UTC; "" for 0 (never).
func atText(n int64) string {
	if n == 0 {
		return ""
	}
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}

// checkpointJSON is one checkpoint in audit/checkpoints.json.
type checkpointJSON struct {
	Seq         int64  `json:"seq"`
	Head        string `json:"head"`
	At          string `json:"at"`
	AtNanos     int64  `json:"at_ns"`
	Fingerprint string `json:"key_fingerprint"`
	Signature   string `json:"signature"` // base64
}

func writeCheckpoints(ctx context.Context, b *bundle, src Source, c Chain, fp string) (int, error) {
	cps, err := src.AuditCheckpoints(ctx, c.FirstSeq-1, c.HeadSeq)
	if err != nil {
		return 0, err
	}
	out := []checkpointJSON{}
	for _, cp := range cps {
		if cp.Fingerprint != fp { // signed by an earlier key: the bundle cannot vouch for it
			continue
		}
		out = append(out, checkpointJSON{Seq: cp.Seq, Head: hex.EncodeToString(cp.Head), At: ts(cp.At), AtNanos: cp.At.UnixNano(),
			Fingerprint: cp.Fingerprint, Signature: base64.StdEncoding.EncodeToString(cp.Signature)})
	}
	err = b.file(CheckpointsFile, true, func(w io.Writer) error {
		bs, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(bs, '\n'))
		return err
	})
	return len(out), err
}

func writeControls(b *bundle, counts map[string]int) error {
	_, err := b.csvTable("controls.csv", []string{"file", "item", "strategy", "gdpr", "nsm_v2", "cis_v8", "iso27001_2022", "rows"},
		func(write func(...string) error) error {
			for _, c := range Controls {
				rows := ""
				if n, ok := counts[c.File]; ok {
					rows = strconv.Itoa(n)
				}
				if c.File == "controls.csv" {
					rows = strconv.Itoa(len(Controls))
				}
				if err := write(c.File, c.Item, c.Strategy, c.GDPR, c.NSM, c.CIS, c.ISO27001, rows); err != nil {
					return err
				}
			}
			return nil
		})
	return err
}

func writeDeviations(ctx context.Context, b *bundle, src Source, opt Options) (int, error) {
	return b.csvTable("deviations.csv", []string{"id", "rule", "subject", "agent_id", "title", "severity", "status", "refs",
		"assignees", "created_at", "updated_at", "due_at", "first_seen", "last_seen", "occurrences", "personal_data", "breach_t0", "breach_due"},
		func(write func(...string) error) error {
			return src.EachDeviationIn(ctx, opt.From, opt.To, func(d model.Deviation) error {
				return write(d.ID, d.Rule, d.Subject, d.AgentID, d.Title, d.Severity, d.Status, strings.Join(d.Refs, " "),
					strings.Join(d.Assignees, " "), ts(d.CreatedAt), ts(d.UpdatedAt), ts(d.DueAt), ts(d.FirstSeen), ts(d.LastSeen),
					strconv.Itoa(d.Count), yesNo(d.PersonalData), ts(d.BreachT0), ts(d.BreachDue))
			})
		})
}

func writeTimeline(ctx context.Context, b *bundle, src Source, opt Options) (int, error) {
	return b.csvTable("deviation-timeline.csv", []string{"deviation_id", "seq", "at", "actor", "type", "text", "detail"},
		func(write func(...string) error) error {
			return src.EachTimelineIn(ctx, opt.From, opt.To, func(id string, e model.TimelineEvent) error {
				return write(id, strconv.FormatInt(e.Seq, 10), ts(e.At), e.Actor, e.Type, e.Text, e.Detail)
			})
		})
}

func writeBreaches(ctx context.Context, b *bundle, src Source, opt Options) (int, error) {
	reg, err := src.BreachRegister(ctx)
	if err != nil {
		return 0, err
	}
	return b.csvTable("breaches.csv", []string{"deviation_id", "title", "status", "t0", "deadline", "decision", "rationale",
		"art34", "notified_at", "notified_within_72h", "reference", "decided_by", "decided_at", "escalated_at"},
		func(write func(...string) error) error {
			for _, e := range reg {
				d := e.Deviation
				if !d.BreachT0.Before(opt.To) {
					continue
				}
				inPeriod := !d.BreachT0.Before(opt.From) || e.Decision == nil || !e.Decision.DecidedAt.Before(opt.From)
				if !inPeriod {
					continue
				}
				var dec, rat, art34, notified, within, ref, by, at string
				if x := e.Decision; x != nil {
					dec, rat, art34, ref, by, at = x.Decision, x.Rationale, yesNo(x.Art34), x.Reference, x.DecidedBy, ts(x.DecidedAt)
					if x.Decision == model.BreachNotify {
						notified = ts(x.NotifiedAt)
						within = yesNo(!x.NotifiedAt.After(d.BreachDue))
					}
				}
				if err := write(d.ID, d.Title, d.Status, ts(d.BreachT0), ts(d.BreachDue), dec, rat, art34, notified, within,
					ref, by, at, ts(e.EscalatedAt)); err != nil {
					return err
				}
			}
			return nil
		})
}

// registerFile writes a register with its register package writer.
func registerFile[T any](b *bundle, name string, items []T, write func(io.Writer, []T) error) (int, error) {
	return len(items), b.file(name, true, func(w io.Writer) error { return write(w, items) })
}

func writeAssets(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.Assets(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "assets.csv", v, register.WriteAssetsCSV)
}

func writeMediaRegister(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.MediaRegister(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "media-register.csv", v, register.WriteMediaCSV)
}

func writeSoftwareCatalog(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.SoftwareCatalog(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "software-catalog.csv", v, register.WriteSoftwareCSV)
}

func writeOrgUnits(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.Units(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "org-units.csv", v, register.WriteUnitsCSV)
}

func writeOrgPeople(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.People(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "org-people.csv", v, register.WritePeopleCSV)
}

func writeOrgSuppliers(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.SupplierPeople(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "org-suppliers.csv", v, register.WriteSupplierPeopleCSV)
}

func writeOrgShared(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	v, err := src.SharedSolutions(ctx)
	if err != nil {
		return 0, err
	}
	return registerFile(b, "org-shared-solutions.csv", v, register.WriteSharedSolutionsCSV)
}

func writeMediaEvents(ctx context.Context, b *bundle, src Source, opt Options) (int, error) {
	return b.csvTable("media-events.csv", []string{"id", "at", "agent_id", "hostname", "seq", "action", "class", "vid", "pid",
		"serial", "vendor", "product", "user", "labels", "encrypted", "markings", "verdict", "rule", "enforced"},
		func(write func(...string) error) error {
			return src.EachMediaEventIn(ctx, opt.From, opt.To, func(m model.MediaEvent) error {
				ev, d := m.Event, m.Event.Device
				var labels, enc, marks []string
				for _, v := range d.Volumes {
					labels = append(labels, v.Label)
					enc = append(enc, v.Encrypted)
					if v.Marking != nil {
						marks = append(marks, v.Marking.ID)
					}
				}
				var user, verdict, rule, enforced string
				if ev.Mount != nil {
					user = ev.Mount.User
				}
				if ev.Decision != nil {
					verdict, rule, enforced = ev.Decision.Verdict, ev.Decision.Rule, yesNo(ev.Decision.Enforced)
				}
				return write(strconv.FormatInt(m.ID, 10), ts(m.At), m.AgentID, m.Hostname, strconv.FormatUint(m.Seq, 10),
					ev.Action, d.Class, d.VID, d.PID, d.Serial, d.Vendor, d.Product, user,
					strings.Join(labels, " "), strings.Join(enc, " "), strings.Join(marks, " "), verdict, rule, enforced)
			})
		})
}

func writeAgents(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	agents, err := src.ListAgents(ctx)
	if err != nil {
		return 0, err
	}
	return b.csvTable("agents.csv", []string{"agent_id", "hostname", "fingerprint", "enrolled_at", "revoked_at", "last_seen",
		"version", "cert_not_after"}, func(write func(...string) error) error {
		for _, a := range agents {
			if err := write(a.ID, a.Hostname, a.Fingerprint, ts(a.EnrolledAt), ts(a.RevokedAt), ts(a.LastSeen), a.Version,
				ts(a.CertNotAfter)); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeZoneMatrix(ctx context.Context, b *bundle, src Source, opt Options) (int, error) {
	pairs, err := src.EvidenceZoneMatrix(ctx, opt.From, opt.To)
	if err != nil {
		return 0, err
	}
	return b.csvTable("flows-zone-matrix.csv", []string{"from_zone", "to_zone", "flows", "hosts", "packets", "bytes",
		"flows_denied_by_agents", "first", "last", "firewall_map"}, func(write func(...string) error) error {
		for _, p := range pairs {
			fw := "unknown"
			if opt.Allowed != nil {
				fw = "not allowed"
				if opt.Allowed(p.From, p.To) {
					fw = "allowed"
				}
			}
			if err := write(p.From, p.To, strconv.Itoa(p.Flows), strconv.Itoa(p.Hosts), strconv.FormatUint(p.Packets, 10),
				strconv.FormatUint(p.Bytes, 10), strconv.Itoa(p.Denied), ts(p.First), ts(p.Last), fw); err != nil {
				return err
			}
		}
		return nil
	})
}

// softwareSum is one package name of one source across hosts.
type softwareSum struct {
	versions map[string]bool
	hosts    int
}

func writeSoftwareSummary(ctx context.Context, b *bundle, src Source, _ Options) (int, error) {
	type key struct{ source, name string }
	sums := map[key]*softwareSum{}
	err := src.EachHostSoftware(ctx, func(_, _ string, pkgs []wire.Package) error {
		seen := map[key]bool{}
		for _, p := range pkgs {
			k := key{p.Source, p.Name}
			s := sums[k]
			if s == nil {
				s = &softwareSum{versions: map[string]bool{}}
				sums[k] = s
			}
			s.versions[p.Version] = true
			if !seen[k] {
				seen[k] = true
				s.hosts++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	keys := slices.SortedFunc(maps.Keys(sums), func(a, b key) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)), strings.Compare(a.name, b.name), strings.Compare(a.source, b.source))
	})
	return b.csvTable("software-summary.csv", []string{"package", "source", "versions", "hosts"}, func(write func(...string) error) error {
		for _, k := range keys {
			s := sums[k]
			if err := write(k.name, k.source, strings.Join(slices.Sorted(maps.Keys(s.versions)), " "), strconv.Itoa(s.hosts)); err != nil {
				return err
			}
		}
		return nil
	})
}

// snapshotAround returns the newest snapshot at or before t (with its JSON),
// or nil.
func snapshotAround(ctx context.Context, src Source, list []model.MapSnapshot, t time.Time) (*model.MapSnapshot, error) {
	for _, s := range list { // newest first
		if !s.At.After(t) {
			full, err := src.GetMapSnapshot(ctx, s.ID)
			if err != nil {
				return nil, err
			}
			return &full, nil
		}
	}
	return nil, nil
}

// writeConfigMap writes configmap.json (the map at the period's end: built
// now when the period reaches the present, else the newest snapshot at or
// before its end, else built now), the same map as configmap.csv and as a
// picture in configmap.svg, coverage.csv
// from that map, and configmap-changes.csv (the diff between the maps at the
// period's start and end, when both are known).
func writeConfigMap(ctx context.Context, b *bundle, src Source, opt Options) (int, error) {
	list, err := src.ListMapSnapshots(ctx, maxSnapshots)
	if err != nil {
		return 0, err
	}
	var end, start *configmap.Map
	var endJSON []byte
	snap, err := snapshotAround(ctx, src, list, opt.To)
	if err != nil {
		return 0, err
	}
	if opt.To.After(b.now) && opt.BuildMap != nil {
		snap = nil // the period runs to now or beyond: the map built now is its end
	}
	switch {
	case snap != nil:
		m, err := configmap.Decode(*snap)
		if err != nil {
			return 0, fmt.Errorf("configuration map snapshot %d: %w", snap.ID, err)
		}
		end, endJSON = &m, snap.JSON
	case opt.BuildMap != nil:
		m, err := opt.BuildMap(ctx)
		if err != nil {
			return 0, err
		}
		if endJSON, err = json.Marshal(m); err != nil {
			return 0, err
		}
		end = &m
	}
	if s, err := snapshotAround(ctx, src, list, opt.From); err != nil {
		return 0, err
	} else if s != nil {
		m, err := configmap.Decode(*s)
		if err != nil {
			return 0, fmt.Errorf("configuration map snapshot %d: %w", s.ID, err)
		}
		start = &m
	}
	if endJSON == nil {
		endJSON = []byte("null")
	}
	if err := b.file("configmap.json", true, func(w io.Writer) error {
		_, err := w.Write(endJSON)
		return err
	}); err != nil {
		return 0, err
	}
	if err := writeMapTable(b, end); err != nil {
		return 0, err
	}
	if err := b.file("configmap.svg", true, func(w io.Writer) error {
		m := configmap.Map{}
		if end != nil {
			m = *end
		}
		return configmap.WriteSVG(w, m, configmap.RenderOptions{Location: Oslo})
	}); err != nil {
		return 0, err
	}
	if err := writeCoverage(b, end); err != nil {
		return 0, err
	}
	if err := writeMapChanges(b, start, end); err != nil {
		return 0, err
	}
	if end == nil {
		return 0, nil
	}
	return len(end.Entries), nil
}

// writeMapTable writes configmap.csv: the map at the period's end, one row
// per entry, for a spreadsheet.
func writeMapTable(b *bundle, m *configmap.Map) error {
	_, err := b.csvTable("configmap.csv", []string{"kind", "key", "state", "hostname", "serial", "zone", "unit",
		"macs", "ips", "agent_ids", "last_seen", "reasons"}, func(write func(...string) error) error {
		if m == nil {
			return nil
		}
		for _, e := range m.Entries {
			if err := write(e.Kind, e.Key(), string(e.State), e.Hostname, e.Serial, e.Zone, e.Unit,
				strings.Join(e.MACs, " "), strings.Join(e.IPs, " "), strings.Join(e.AgentIDs, " "),
				ts(e.LastSeen), strings.Join(e.Reasons, "; ")); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func writeCoverage(b *bundle, m *configmap.Map) error {
	_, err := b.csvTable("coverage.csv", []string{"asset_tag", "type", "hostname", "owner_unit", "zone", "state",
		"reporting_agent", "agent_ids", "last_seen", "reasons"}, func(write func(...string) error) error {
		if m == nil {
			return nil
		}
		for _, e := range m.Entries {
			if e.Kind != configmap.KindAsset || e.Asset == nil || e.Asset.Status == model.AssetRetired {
				continue
			}
			reporting := (e.State == configmap.Matched || e.State == configmap.Conflict) && len(e.AgentIDs) > 0
			if err := write(e.Asset.Tag, e.Asset.Type, e.Hostname, e.Unit, e.Zone, string(e.State), yesNo(reporting),
				strings.Join(e.AgentIDs, " "), ts(e.LastSeen), strings.Join(e.Reasons, "; ")); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func writeMapChanges(b *bundle, start, end *configmap.Map) error {
	_, err := b.csvTable("configmap-changes.csv", []string{"kind", "key", "op", "before", "after"}, func(write func(...string) error) error {
		if start == nil || end == nil {
			return nil
		}
		for _, c := range configmap.Diff(*start, *end) {
			if err := write(c.Kind, c.Key, c.Op, c.Before, c.After); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}
