package evidence_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

var _ evidence.Source = (*sqlstore.DB)(nil)

// year is the period the synthetic history covers.
var (
	yearFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, evidence.Oslo)
	yearTo   = time.Date(2026, 1, 1, 0, 0, 0, 0, evidence.Oslo)
)

// history says how much synthetic history seed writes.
type history struct {
	hosts     int // agents, 90 % of them in the asset register
	devEvents int // deviation timeline entries (five per deviation)
	media     int // media events
	flowHours int // hourly cross-zone flow rows
	pkgs      int // packages per host
	audit     int // audit entries
}

// openStore opens (creating) a SQLite store in dir.
func openStore(t testing.TB, dir string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "sonevakt.db"), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawDB opens the store's file directly, as an attacker with file access
// (or a bulk loader) would.
func rawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", filepath.Join(dir, "sonevakt.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return raw
}

// seed writes synthetic history for yearFrom..yearTo into the store in dir
// (which must be open, so that the schema exists) in one raw transaction:
// far faster than the store's API, which is not what is measured.
func seed(t testing.TB, dir string, h history) {
	t.Helper()
	raw := rawDB(t, dir)
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		s, err := tx.Prepare(q)
		if err != nil {
			t.Fatalf("prepare %s: %v", q, err)
		}
		return s
	}
	exec := func(s *sql.Stmt, args ...any) {
		if _, err := s.Exec(args...); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	start := yearFrom.UnixNano()
	span := yearTo.UnixNano() - start
	now := time.Now().UnixNano()
	zones := []string{"adm", "helse", "skole", "dmz", "server", "gjest"}

	agent := prep(`INSERT INTO agents (id, fingerprint, hostname, enrolled_at, last_seen, version) VALUES (?, ?, ?, ?, ?, '1.0')`)
	hostFacts := prep(`INSERT INTO hosts (agent_id, facts, facts_at) VALUES (?, ?, ?)`)
	asset := prep(`INSERT INTO assets (tag, type, serial, hostname, owner_unit, zone, updated_at, updated_by) VALUES (?, 'pc', ?, ?, ?, ?, ?, 'seed')`)
	assetMAC := prep(`INSERT INTO asset_macs (mac, tag) VALUES (?, ?)`)
	sw := prep(`INSERT INTO software (agent_id, name, name_fold, version, source) VALUES (?, ?, ?, ?, 'dpkg')`)
	for i := range h.hosts {
		id, host := fmt.Sprintf("agent-%05d", i), fmt.Sprintf("pc-%05d", i)
		seen := now - int64(time.Hour)
		if i%20 == 0 {
			seen = now - 30*24*int64(time.Hour) // silent
		}
		exec(agent, id, "fp-"+id, host, start, seen)
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8&0xff, i&0xff)
		facts, _ := json.Marshal(wire.Host{Hostname: host, Interfaces: []wire.Interface{{Name: "eth0", MAC: mac, Addrs: []string{fmt.Sprintf("10.%d.%d.%d/16", i%6, i>>8&0xff, i&0xff)}, Up: true}}})
		exec(hostFacts, id, string(facts), seen)
		if i%10 != 9 {
			tag := fmt.Sprintf("A%05d", i)
			exec(asset, tag, fmt.Sprintf("SN%05d", i), host, "unit-"+zones[i%len(zones)], zones[i%len(zones)], start)
			exec(assetMAC, mac, tag)
		}
		for p := range h.pkgs {
			name := fmt.Sprintf("pkg-%03d", (i*7+p*13)%500)
			exec(sw, id, name, name, fmt.Sprintf("1.%d", (i+p)%3))
		}
	}

	dev := prep(`INSERT INTO deviations (id, year, n, rule, subject, agent_id, title, severity, refs, status, assignees,
		created_at, updated_at, due_at, first_seen, last_seen, count, personal_data, breach_t0, breach_due)
		VALUES (?, 2025, ?, ?, ?, ?, ?, ?, '["S1.3"]', ?, '["role:sikkerhet"]', ?, ?, ?, ?, ?, 3, ?, ?, ?)`)
	tl := prep(`INSERT INTO deviation_timeline (deviation_id, at, actor, type, text, detail) VALUES (?, ?, ?, ?, ?, '')`)
	rules := []string{"unknown-media", "unregistered-host", "cross-zone-flow", "unapproved-software"}
	for n := 1; n <= h.devEvents/5; n++ {
		id := fmt.Sprintf("AVVIK-2025-%d", n)
		at := start + span*int64(n)/int64(h.devEvents/5+1)
		status, pd := model.StatusClosed, n%50 == 0
		if n%7 == 0 {
			status = model.StatusHandling
		}
		var t0, due int64
		if pd {
			t0, due = at, at+72*int64(time.Hour)
		}
		agentID := fmt.Sprintf("agent-%05d", n%max(h.hosts, 1))
		exec(dev, id, n, rules[n%len(rules)], fmt.Sprintf("subject-%d", n), agentID, "=cmd|' /C calc'!A0 title "+id,
			model.SeverityMedium, status, at, at+int64(48*time.Hour), at+int64(14*24*time.Hour), at, at+int64(time.Hour), pd, t0, due)
		for k, typ := range []string{model.TimelineCreated, model.TimelineNotification, model.TimelineAssignment, model.TimelineComment, model.TimelineStatus} {
			exec(tl, id, at+int64(k)*int64(10*time.Hour), "kari", typ, "step "+typ)
		}
	}

	media := prep(`INSERT INTO media_log (agent_id, seq, at, received_at, action, key, class, event, evaluated) VALUES (?, ?, ?, ?, 'add', ?, 'usb-storage', ?, 1)`)
	for i := range h.media {
		at := start + span*int64(i)/int64(h.media+1)
		ev, _ := json.Marshal(wire.MediaEvent{Action: "add", Device: wire.MediaDevice{Class: "usb-storage", Name: "sdb", VID: "0781", PID: "5583", Serial: fmt.Sprintf("S%06d", i),
			Volumes: []wire.MediaVolume{{Name: "sdb1", Label: "KOMMUNE-1", Encrypted: "no"}}}})
		exec(media, fmt.Sprintf("agent-%05d", i%max(h.hosts, 1)), 1_000_000+i, at, at, fmt.Sprintf("0781:5583:S%06d", i), string(ev))
	}

	flow := prep(`INSERT INTO flow_hours (hour, agent_id, src, dst, proto, dport, process, src_zone, dst_zone, packets, bytes, first, last, verdict, seq, evaluated)
		VALUES (?, ?, ?, ?, 'tcp', ?, '', ?, ?, 10, 1000, ?, ?, ?, 1, 1)`)
	hours := span / int64(time.Hour)
	for i := range h.flowHours {
		hour := start + (int64(i)%hours)*int64(time.Hour)
		a := i / int(hours) % max(h.hosts, 1)
		z1, z2 := zones[i%len(zones)], zones[(i/len(zones)+1)%len(zones)]
		if z1 == z2 {
			z2 = zones[(i+1)%len(zones)]
		}
		verdict := "allowed"
		if i%97 == 0 {
			verdict = "denied"
		}
		exec(flow, hour, fmt.Sprintf("agent-%05d", a), fmt.Sprintf("10.0.%d.%d", a>>8&0xff, a&0xff), fmt.Sprintf("10.1.0.%d", i%200),
			443+i/int(hours)/max(h.hosts, 1), z1, z2, hour, hour+int64(time.Minute), verdict)
	}

	// The audit log, chained as the store chains it.
	aud := prep(`INSERT INTO audit_log (seq, at, actor, action, subject, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	var last int64
	prev := model.GenesisHash
	if err := tx.QueryRow(`SELECT coalesce(max(seq), 0) FROM audit_log`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if last > 0 {
		if err := tx.QueryRow(`SELECT hash FROM audit_log WHERE seq = ?`, last).Scan(&prev); err != nil {
			t.Fatal(err)
		}
	}
	for i := range h.audit {
		e := model.AuditEntry{AuditEvent: model.AuditEvent{Seq: last + int64(i) + 1, Actor: "kari", Action: "deviation.status",
			Subject: fmt.Sprintf("AVVIK-2025-%d", i+1), Detail: `{"status":"lukket"}`}, AtNanos: start + span*int64(i)/int64(h.audit+1)}
		e.Hash = e.Rehash(prev)
		exec(aud, e.Seq, e.AtNanos, e.Actor, e.Action, e.Subject, e.Detail, e.Hash)
		prev = e.Hash
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
