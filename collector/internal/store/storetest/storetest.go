// Package storetest is the conformance suite for store drivers: every driver
// of model.Store runs Run against fresh stores and must pass it unchanged. The
// suite speaks only through the model interfaces, so nothing in it belongs to
// one database; driver-specific checks (files, triggers, migrations) live in
// the driver's own tests.
//
// Times in the suite have microsecond precision, the finest every driver
// keeps; drivers may return them in any location.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Run runs the suite. open must return a fresh, empty store for the given
// (sub)test; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) model.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st model.Store)
	}{
		{"EnrollTokenCreateGet", testEnrollTokenCreateGet},
		{"EnrollTokenList", testEnrollTokenList},
		{"EnrollTokenUse", testEnrollTokenUse},
		{"EnrollTokenExpired", testEnrollTokenExpired},
		{"EnrollTokenUnknown", testEnrollTokenUnknown},
		{"EnrollTokenConcurrentUse", testEnrollTokenConcurrentUse},
		{"AgentCreateGet", testAgentCreateGet},
		{"AgentListAndFingerprint", testAgentListAndFingerprint},
		{"AgentUpdateCert", testAgentUpdateCert},
		{"AgentRevoke", testAgentRevoke},
		{"IngestStoresRecords", testIngestStoresRecords},
		{"IngestResend", testIngestResend},
		{"IngestOverlap", testIngestOverlap},
		{"IngestAckMaxSeq", testIngestAckMaxSeq},
		{"IngestUnknownAgent", testIngestUnknownAgent},
		{"IngestCanceled", testIngestCanceled},
		{"IngestEmptyBatch", testIngestEmptyBatch},
		{"IngestUpdatesAgent", testIngestUpdatesAgent},
		{"IngestStats", testIngestStats},
		{"IngestFactsNewerOnly", testIngestFactsNewerOnly},
		{"IngestConcurrent", testIngestConcurrent},
		{"RecordsPaging", testRecordsPaging},
		{"HostsList", testHostsList},
		{"HostGet", testHostGet},
		{"InventoryFullThenDelta", testInventoryFullThenDelta},
		{"InventoryBadDelta", testInventoryBadDelta},
		{"InventoryResend", testInventoryResend},
		{"SearchSoftware", testSearchSoftware},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"APITokens", testAPITokens},
		{"AuditAppendList", testAuditAppendList},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditChainAppendRead", testAuditChainAppendRead}, {"AuditChainConcurrent", testAuditChainConcurrent}, {"AuditCheckpoints", testAuditCheckpoints},
		{"PolicyDefault", testPolicyDefault},
		{"PolicyVersioning", testPolicyVersioning},
		{"MediaIngest", testMediaIngest},
		{"MediaLogPaging", testMediaLogPaging},
		{"MediaRegisterImport", testMediaRegisterImport},
		{"MediaRegisterConflict", testMediaRegisterConflict},
		{"SoftwareCatalogImport", testSoftwareCatalogImport},
		{"SoftwareCatalogRefused", testSoftwareCatalogRefused},
		{"DeviationCreateGet", testDeviationCreateGet},
		{"DeviationDedupe", testDeviationDedupe},
		{"DeviationNumbering", testDeviationNumbering},
		{"DeviationStatus", testDeviationStatus},
		{"DeviationComment", testDeviationComment},
		{"DeviationList", testDeviationList},
		{"DeviationEvaluated", testDeviationEvaluated},
		{"TrafficIngest", testTrafficIngest},
		{"TrafficQuery", testTrafficQuery},
		{"TrafficJudged", testTrafficJudged},
		{"TrafficNeighbours", testTrafficNeighbours},
		{"ConfigMapIdentities", testConfigMapIdentities},
		{"ConfigMapSnapshots", testConfigMapSnapshots},
		{"StandingLifecycle", testStandingLifecycle},
		{"StandingScope", testStandingScope},
		{"StandingInvalid", testStandingInvalid},
		{"HostAccounts", testHostAccounts},
		{"OrgImport", testOrgImport},
		{"OrgRefused", testOrgRefused},
		{"OrgDelete", testOrgDelete},
		{"ExceptionGrant", testExceptionGrant},
		{"ExceptionActive", testExceptionActive},
		{"BreachDecide", testBreachDecide},
		{"BreachEscalate", testBreachEscalate},
		{"Accounts", testAccounts},
		{"AssetRegister", testAssetRegister},
		{"AssetRefused", testAssetRefused},
		{"EachHostSoftware", testEachHostSoftware},
		{"TrafficZoneHours", testTrafficZoneHours},
		{"TrafficCaptureStatus", testTrafficCaptureStatus},
		{"EvidenceDeviations", testEvidenceDeviations},
		{"EvidenceTimeline", testEvidenceTimeline},
		{"EvidenceMedia", testEvidenceMedia},
		{"EvidenceZoneMatrix", testEvidenceZoneMatrix},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			tc.fn(t, st)
		})
	}
}

// RunHandles runs the checks that need more than one handle on one store's
// data: a restart (close, then open again) and replicas (two handles at
// once). For each (sub)test, open must set up fresh, empty data and return a
// function that opens a new handle on it at every call; the suite closes
// every handle it opens.
func RunHandles(t *testing.T, open func(t *testing.T) func() model.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() model.Store)
	}{
		{"DeviationReopen", testDeviationReopen},
		{"DeviationReplicas", testDeviationReplicas},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// t0 is the suite's epoch: microsecond precision, UTC.
var t0 = time.Date(2026, time.March, 2, 9, 30, 15, 123456000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// wantErr fails unless err is of the given kind.
func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s = %v, want %v", what, err, kind)
	}
}

// must fails the test now on an unexpected error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v", what, err)
	}
}

// Normalisers: drivers may return times in any location.

func normToken(x model.EnrollToken) model.EnrollToken {
	x.CreatedAt, x.ExpiresAt = x.CreatedAt.UTC(), x.ExpiresAt.UTC()
	return x
}

func normAgent(x model.Agent) model.Agent {
	x.CertNotAfter, x.EnrolledAt = x.CertNotAfter.UTC(), x.EnrolledAt.UTC()
	x.RevokedAt, x.LastSeen = x.RevokedAt.UTC(), x.LastSeen.UTC()
	return x
}

func normAgents(xs []model.Agent) []model.Agent {
	out := make([]model.Agent, len(xs))
	for i, x := range xs {
		out[i] = normAgent(x)
	}
	return out
}

func normUser(x model.User) model.User {
	x.CreatedAt, x.LockedUntil = x.CreatedAt.UTC(), x.LockedUntil.UTC()
	return x
}

func normSession(x model.Session) model.Session {
	x.CreatedAt, x.ExpiresAt = x.CreatedAt.UTC(), x.ExpiresAt.UTC()
	return x
}

func normAPIToken(x model.APIToken) model.APIToken {
	x.CreatedAt, x.LastUsed = x.CreatedAt.UTC(), x.LastUsed.UTC()
	return x
}

func normAudit(xs []model.AuditEvent) []model.AuditEvent {
	out := make([]model.AuditEvent, len(xs))
	for i, x := range xs {
		x.At = x.At.UTC()
		out[i] = x
	}
	return out
}

func agentFixture(id, hostname, fp string, enrolled time.Time) model.Agent {
	return model.Agent{
		ID: id, Fingerprint: fp, Hostname: hostname, CertSerial: "1f" + id,
		CertNotAfter: enrolled.Add(90 * 24 * time.Hour), EnrolledAt: enrolled, Addr: "192.0.2.10:50000",
	}
}

func createAgent(t *testing.T, st model.Store, id, hostname string) model.Agent {
	t.Helper()
	a := agentFixture(id, hostname, "fp-"+id, at(0))
	must(t, fmt.Sprintf("CreateAgent(%s)", id), st.CreateAgent(t.Context(), a))
	return a
}

// records returns records from..to (inclusive) with bodies that name their
// seq and tag; every fifth is marked compressed so Enc round-trips too.
func records(from, to uint64, tag string) []wire.Record {
	var rs []wire.Record
	kinds := []wire.Kind{wire.KindHealth, wire.KindFlows, wire.KindMedia, wire.KindSockets, wire.KindNeighbours}
	for s := from; s <= to; s++ {
		r := wire.Record{
			Seq: s, Kind: kinds[s%uint64(len(kinds))], ObservedAt: at(time.Duration(s) * time.Second).UnixNano(),
			Body: []byte(fmt.Sprintf("%s-body-%d", tag, s)),
		}
		if s%5 == 0 {
			r.Enc = wire.EncCBORZstd
		}
		rs = append(rs, r)
	}
	return rs
}

func batch(agentID string, recs []wire.Record) model.IngestBatch {
	return model.IngestBatch{AgentID: agentID, Addr: "192.0.2.10:50001", ReceivedAt: at(time.Hour), Records: recs}
}

func ingest(t *testing.T, st model.Store, b model.IngestBatch) model.IngestResult {
	t.Helper()
	res, err := st.Ingest(t.Context(), b)
	must(t, fmt.Sprintf("Ingest(%s, %d records)", b.AgentID, len(b.Records)), err)
	return res
}

// allRecords pages through an agent's records, 7 at a time to cross pages.
func allRecords(t *testing.T, st model.Store, agentID string) []wire.Record {
	t.Helper()
	var all []wire.Record
	var after uint64
	for {
		page, err := st.Records(t.Context(), agentID, after, 7)
		must(t, fmt.Sprintf("Records(%s, %d, 7)", agentID, after), err)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

func sameRecords(t *testing.T, what string, got, want []wire.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Kind != w.Kind || g.ObservedAt != w.ObservedAt || g.Enc != w.Enc || !bytes.Equal(g.Body, w.Body) {
			t.Errorf("%s: record %d = {%d %s %d %d %q}, want {%d %s %d %d %q}", what, i,
				g.Seq, g.Kind, g.ObservedAt, g.Enc, g.Body, w.Seq, w.Kind, w.ObservedAt, w.Enc, w.Body)
		}
	}
}

func host(t *testing.T, st model.Store, id string) model.HostSummary {
	t.Helper()
	h, err := st.GetHost(t.Context(), id)
	must(t, fmt.Sprintf("GetHost(%s)", id), err)
	return h
}

func wantStats(t *testing.T, st model.Store, id string, n int64, minSeq, maxSeq uint64) {
	t.Helper()
	h := host(t, st, id)
	if h.Records != n || h.MinSeq != minSeq || h.MaxSeq != maxSeq {
		t.Errorf("GetHost(%s) stats = {records %d, min %d, max %d}, want {%d, %d, %d}",
			id, h.Records, h.MinSeq, h.MaxSeq, n, minSeq, maxSeq)
	}
}

// Enrollment tokens.

func tokenFixture(id string, uses int, created time.Time) model.EnrollToken {
	return model.EnrollToken{
		ID: id, SecretHash: hash("secret-" + id), CreatedAt: created, ExpiresAt: created.Add(time.Hour),
		MaxUses: uses, UsesLeft: uses, CreatedBy: "admin",
	}
}

func testEnrollTokenCreateGet(t *testing.T, st model.Store) {
	ctx := t.Context()
	tok := tokenFixture("tok1", 3, at(0))
	must(t, "CreateEnrollToken", st.CreateEnrollToken(ctx, tok))
	got, err := st.GetEnrollToken(ctx, "tok1")
	must(t, "GetEnrollToken(tok1)", err)
	if !reflect.DeepEqual(normToken(got), tok) {
		t.Errorf("GetEnrollToken(tok1) = %+v, want %+v", got, tok)
	}
	wantErr(t, "CreateEnrollToken(tok1 again)", st.CreateEnrollToken(ctx, tokenFixture("tok1", 1, at(time.Minute))), model.ErrConflict)
	_, err = st.GetEnrollToken(ctx, "nope")
	wantErr(t, "GetEnrollToken(nope)", err, model.ErrNotFound)
}

func testEnrollTokenList(t *testing.T, st model.Store) {
	ctx := t.Context()
	ts, err := st.ListEnrollTokens(ctx)
	must(t, "ListEnrollTokens on empty store", err)
	if len(ts) != 0 {
		t.Errorf("ListEnrollTokens on empty store = %d tokens, want 0", len(ts))
	}
	for _, tok := range []model.EnrollToken{
		tokenFixture("b", 1, at(2*time.Minute)), tokenFixture("c", 2, at(time.Minute)), tokenFixture("a", 3, at(3*time.Minute)),
	} {
		must(t, "CreateEnrollToken("+tok.ID+")", st.CreateEnrollToken(ctx, tok))
	}
	ts, err = st.ListEnrollTokens(ctx)
	must(t, "ListEnrollTokens", err)
	var ids []string
	for _, tok := range ts {
		ids = append(ids, tok.ID)
	}
	if want := []string{"c", "b", "a"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ListEnrollTokens ids = %v, want %v (by creation time)", ids, want)
	}
	if len(ts) == 3 && !reflect.DeepEqual(normToken(ts[0]), tokenFixture("c", 2, at(time.Minute))) {
		t.Errorf("ListEnrollTokens[0] = %+v, want token c as created", ts[0])
	}
}

func testEnrollTokenUse(t *testing.T, st model.Store) {
	ctx := t.Context()
	must(t, "CreateEnrollToken", st.CreateEnrollToken(ctx, tokenFixture("tok", 3, at(0))))
	for want := 2; want >= 0; want-- {
		must(t, "UseEnrollToken(tok)", st.UseEnrollToken(ctx, "tok", at(time.Minute)))
		got, err := st.GetEnrollToken(ctx, "tok")
		must(t, "GetEnrollToken(tok)", err)
		if got.UsesLeft != want || got.MaxUses != 3 {
			t.Errorf("after a use: UsesLeft, MaxUses = %d, %d, want %d, 3", got.UsesLeft, got.MaxUses, want)
		}
	}
	wantErr(t, "UseEnrollToken(tok) with no uses left", st.UseEnrollToken(ctx, "tok", at(time.Minute)), model.ErrUsedUp)
	got, err := st.GetEnrollToken(ctx, "tok")
	must(t, "GetEnrollToken(tok)", err)
	if got.UsesLeft != 0 {
		t.Errorf("UsesLeft after refusal = %d, want 0", got.UsesLeft)
	}
}

func testEnrollTokenExpired(t *testing.T, st model.Store) {
	ctx := t.Context()
	tok := tokenFixture("tok", 2, at(0)) // expires at(time.Hour)
	must(t, "CreateEnrollToken", st.CreateEnrollToken(ctx, tok))
	wantErr(t, "UseEnrollToken at expiry", st.UseEnrollToken(ctx, "tok", tok.ExpiresAt), model.ErrExpired)
	wantErr(t, "UseEnrollToken after expiry", st.UseEnrollToken(ctx, "tok", tok.ExpiresAt.Add(time.Second)), model.ErrExpired)
	got, err := st.GetEnrollToken(ctx, "tok")
	must(t, "GetEnrollToken(tok)", err)
	if got.UsesLeft != 2 {
		t.Errorf("UsesLeft after expired uses = %d, want 2", got.UsesLeft)
	}
	must(t, "UseEnrollToken just before expiry", st.UseEnrollToken(ctx, "tok", tok.ExpiresAt.Add(-time.Microsecond)))

	// Expired and used up: expiry is the reason given.
	must(t, "CreateEnrollToken(one)", st.CreateEnrollToken(ctx, tokenFixture("one", 1, at(0))))
	must(t, "UseEnrollToken(one)", st.UseEnrollToken(ctx, "one", at(time.Minute)))
	wantErr(t, "UseEnrollToken(one) used up and expired", st.UseEnrollToken(ctx, "one", at(2*time.Hour)), model.ErrExpired)
}

func testEnrollTokenUnknown(t *testing.T, st model.Store) {
	wantErr(t, "UseEnrollToken(nope)", st.UseEnrollToken(t.Context(), "nope", at(0)), model.ErrNotFound)
}

func testEnrollTokenConcurrentUse(t *testing.T, st model.Store) {
	ctx := t.Context()
	must(t, "CreateEnrollToken", st.CreateEnrollToken(ctx, tokenFixture("tok", 5, at(0))))
	const tries = 20
	errs := make(chan error, tries)
	var wg sync.WaitGroup
	for range tries {
		wg.Go(func() { errs <- st.UseEnrollToken(ctx, "tok", at(time.Minute)) })
	}
	wg.Wait()
	close(errs)
	var ok, usedUp int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, model.ErrUsedUp):
			usedUp++
		default:
			t.Errorf("concurrent UseEnrollToken = %v, want nil or ErrUsedUp", err)
		}
	}
	if ok != 5 || usedUp != tries-5 {
		t.Errorf("concurrent uses of a 5-use token: %d succeeded, %d used up; want 5, %d", ok, usedUp, tries-5)
	}
}

// Agents.

func testAgentCreateGet(t *testing.T, st model.Store) {
	ctx := t.Context()
	a := agentFixture("ag1", "pc-01", "fp1", at(0))
	a.Version = "1.0.0"
	must(t, "CreateAgent", st.CreateAgent(ctx, a))
	got, err := st.GetAgent(ctx, "ag1")
	must(t, "GetAgent(ag1)", err)
	if !reflect.DeepEqual(normAgent(got), a) {
		t.Errorf("GetAgent(ag1) = %+v, want %+v", got, a)
	}
	if !got.RevokedAt.IsZero() || !got.LastSeen.IsZero() || got.Revoked() {
		t.Errorf("new agent: RevokedAt %v, LastSeen %v, want zero times", got.RevokedAt, got.LastSeen)
	}
	wantErr(t, "CreateAgent(ag1 again)", st.CreateAgent(ctx, agentFixture("ag1", "other", "fp2", at(time.Minute))), model.ErrConflict)
	_, err = st.GetAgent(ctx, "nope")
	wantErr(t, "GetAgent(nope)", err, model.ErrNotFound)
}

func testAgentListAndFingerprint(t *testing.T, st model.Store) {
	ctx := t.Context()
	as, err := st.ListAgents(ctx)
	must(t, "ListAgents on empty store", err)
	if len(as) != 0 {
		t.Errorf("ListAgents on empty store = %d agents, want 0", len(as))
	}
	a := agentFixture("a", "pc-a", "shared", at(3*time.Minute))
	b := agentFixture("b", "pc-b", "shared", at(time.Minute))
	c := agentFixture("c", "pc-c", "own", at(2*time.Minute))
	for _, x := range []model.Agent{a, b, c} {
		must(t, "CreateAgent("+x.ID+")", st.CreateAgent(ctx, x))
	}
	as, err = st.ListAgents(ctx)
	must(t, "ListAgents", err)
	if want := []model.Agent{b, c, a}; !reflect.DeepEqual(normAgents(as), want) {
		t.Errorf("ListAgents = %+v, want %+v (by enrollment time)", as, want)
	}
	as, err = st.AgentsByFingerprint(ctx, "shared")
	must(t, "AgentsByFingerprint(shared)", err)
	if want := []model.Agent{b, a}; !reflect.DeepEqual(normAgents(as), want) {
		t.Errorf("AgentsByFingerprint(shared) = %+v, want %+v", as, want)
	}
	as, err = st.AgentsByFingerprint(ctx, "unseen")
	must(t, "AgentsByFingerprint(unseen)", err)
	if len(as) != 0 {
		t.Errorf("AgentsByFingerprint(unseen) = %d agents, want 0", len(as))
	}
}

func testAgentUpdateCert(t *testing.T, st model.Store) {
	ctx := t.Context()
	a := createAgent(t, st, "ag", "pc")
	notAfter := at(180 * 24 * time.Hour)
	must(t, "UpdateAgentCert", st.UpdateAgentCert(ctx, "ag", "beef", notAfter))
	got, err := st.GetAgent(ctx, "ag")
	must(t, "GetAgent", err)
	a.CertSerial, a.CertNotAfter = "beef", notAfter
	if !reflect.DeepEqual(normAgent(got), a) {
		t.Errorf("after UpdateAgentCert: GetAgent = %+v, want %+v", got, a)
	}
	wantErr(t, "UpdateAgentCert(nope)", st.UpdateAgentCert(ctx, "nope", "beef", notAfter), model.ErrNotFound)
}

func testAgentRevoke(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "pc")
	createAgent(t, st, "other", "pc2")
	must(t, "RevokeAgent", st.RevokeAgent(ctx, "ag", at(time.Hour)))
	got, err := st.GetAgent(ctx, "ag")
	must(t, "GetAgent", err)
	if !got.Revoked() || !got.RevokedAt.Equal(at(time.Hour)) {
		t.Errorf("after RevokeAgent: RevokedAt = %v, want %v", got.RevokedAt, at(time.Hour))
	}
	must(t, "RevokeAgent again", st.RevokeAgent(ctx, "ag", at(2*time.Hour)))
	got, err = st.GetAgent(ctx, "ag")
	must(t, "GetAgent", err)
	if !got.RevokedAt.Equal(at(time.Hour)) {
		t.Errorf("after a second RevokeAgent: RevokedAt = %v, want the first, %v", got.RevokedAt, at(time.Hour))
	}
	other, err := st.GetAgent(ctx, "other")
	must(t, "GetAgent(other)", err)
	if other.Revoked() {
		t.Errorf("RevokeAgent(ag) revoked other too")
	}
	as, err := st.ListAgents(ctx)
	must(t, "ListAgents", err)
	if len(as) != 2 {
		t.Errorf("ListAgents = %d agents, want 2 (revoked included)", len(as))
	}
	wantErr(t, "RevokeAgent(nope)", st.RevokeAgent(ctx, "nope", at(time.Hour)), model.ErrNotFound)
}

// Ingest.

func testIngestStoresRecords(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	recs := records(1, 10, "x")
	res := ingest(t, st, batch("ag", recs))
	if res != (model.IngestResult{MaxSeq: 10, Inserted: 10}) {
		t.Errorf("Ingest(1..10) = %+v, want {MaxSeq:10 Inserted:10}", res)
	}
	sameRecords(t, "stored records", allRecords(t, st, "ag"), recs)
}

func testIngestResend(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	b := batch("ag", records(1, 10, "x"))
	ingest(t, st, b)
	for i := range 2 {
		res := ingest(t, st, b)
		if res != (model.IngestResult{MaxSeq: 10, Inserted: 0}) {
			t.Errorf("resend %d: Ingest(1..10) = %+v, want {MaxSeq:10 Inserted:0}", i+1, res)
		}
	}
	sameRecords(t, "after resends", allRecords(t, st, "ag"), records(1, 10, "x"))
	wantStats(t, st, "ag", 10, 1, 10)
}

func testIngestOverlap(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	ingest(t, st, batch("ag", records(1, 10, "first")))
	// 6..10 again, with other bodies: the stored ones win.
	res := ingest(t, st, batch("ag", records(6, 15, "second")))
	if res != (model.IngestResult{MaxSeq: 15, Inserted: 5}) {
		t.Errorf("Ingest(6..15) over 1..10 = %+v, want {MaxSeq:15 Inserted:5}", res)
	}
	want := append(records(1, 10, "first"), records(11, 15, "second")...)
	sameRecords(t, "after overlap", allRecords(t, st, "ag"), want)
	wantStats(t, st, "ag", 15, 1, 15)

	// A later range first, then the gap below it, then a batch straddling both.
	ingest(t, st, batch("ag", records(20, 25, "third")))
	wantStats(t, st, "ag", 21, 1, 25)
	res = ingest(t, st, batch("ag", records(14, 22, "fourth")))
	if res != (model.IngestResult{MaxSeq: 22, Inserted: 4}) {
		t.Errorf("Ingest(14..22) = %+v, want {MaxSeq:22 Inserted:4}", res)
	}
	wantStats(t, st, "ag", 25, 1, 25)
	if got := len(allRecords(t, st, "ag")); got != 25 {
		t.Errorf("stored %d records, want 25", got)
	}
}

func testIngestAckMaxSeq(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	// MaxSeq is the highest seq in the batch, whatever the order.
	recs := records(1, 3, "x")
	recs[0], recs[2] = recs[2], recs[0]
	res := ingest(t, st, batch("ag", recs))
	if res != (model.IngestResult{MaxSeq: 3, Inserted: 3}) {
		t.Errorf("Ingest(3,2,1) = %+v, want {MaxSeq:3 Inserted:3}", res)
	}
	// A batch wholly stored already acks its own highest seq, not the agent's.
	ingest(t, st, batch("ag", records(4, 9, "x")))
	res = ingest(t, st, batch("ag", records(2, 5, "x")))
	if res != (model.IngestResult{MaxSeq: 5, Inserted: 0}) {
		t.Errorf("Ingest(2..5) of stored records = %+v, want {MaxSeq:5 Inserted:0}", res)
	}
}

func testIngestUnknownAgent(t *testing.T, st model.Store) {
	ctx := t.Context()
	_, err := st.Ingest(ctx, batch("ghost", records(1, 5, "x")))
	wantErr(t, "Ingest(ghost)", err, model.ErrNotFound)
	recs, err := st.Records(ctx, "ghost", 0, 10)
	must(t, "Records(ghost)", err)
	if len(recs) != 0 {
		t.Errorf("Records(ghost) = %d records, want 0", len(recs))
	}
	hs, err := st.ListHosts(ctx)
	must(t, "ListHosts", err)
	if len(hs) != 0 {
		t.Errorf("ListHosts = %d hosts, want 0", len(hs))
	}
}

func testIngestCanceled(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := st.Ingest(ctx, batch("ag", records(1, 50, "x"))); err == nil {
		t.Errorf("Ingest with a canceled context = nil error, want one")
	}
	if got := allRecords(t, st, "ag"); len(got) != 0 {
		t.Errorf("after a canceled Ingest: %d records stored, want 0", len(got))
	}
	wantStats(t, st, "ag", 0, 0, 0)
}

func testIngestEmptyBatch(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	res := ingest(t, st, batch("ag", nil))
	if res != (model.IngestResult{}) {
		t.Errorf("Ingest(empty) = %+v, want zero", res)
	}
	h := host(t, st, "ag")
	if !h.LastSeen.Equal(at(time.Hour)) {
		t.Errorf("after an empty batch: LastSeen = %v, want %v", h.LastSeen, at(time.Hour))
	}
}

func testIngestUpdatesAgent(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "enrolled-name")
	b := batch("ag", records(1, 2, "x"))
	b.Addr, b.ReceivedAt = "198.51.100.7:40000", at(time.Hour)
	b.Hello = &wire.Hello{Version: wire.Version, AgentVersion: "1.2.3", Hostname: "pc-07"}
	ingest(t, st, b)
	got, err := st.GetAgent(ctx, "ag")
	must(t, "GetAgent", err)
	if !got.LastSeen.Equal(at(time.Hour)) || got.Addr != "198.51.100.7:40000" || got.Hostname != "pc-07" || got.Version != "1.2.3" {
		t.Errorf("after a hello: LastSeen, Addr, Hostname, Version = %v, %q, %q, %q; want %v, %q, %q, %q",
			got.LastSeen, got.Addr, got.Hostname, got.Version, at(time.Hour), "198.51.100.7:40000", "pc-07", "1.2.3")
	}

	// Without a hello, name and version stay; contact moves on.
	b = batch("ag", records(3, 4, "x"))
	b.Addr, b.ReceivedAt = "198.51.100.8:40001", at(2*time.Hour)
	ingest(t, st, b)
	got, err = st.GetAgent(ctx, "ag")
	must(t, "GetAgent", err)
	if !got.LastSeen.Equal(at(2*time.Hour)) || got.Addr != "198.51.100.8:40001" || got.Hostname != "pc-07" || got.Version != "1.2.3" {
		t.Errorf("after a batch without hello: LastSeen, Addr, Hostname, Version = %v, %q, %q, %q; want %v, %q, %q, %q",
			got.LastSeen, got.Addr, got.Hostname, got.Version, at(2*time.Hour), "198.51.100.8:40001", "pc-07", "1.2.3")
	}

	// A batch received earlier but committed later does not move LastSeen back.
	b = batch("ag", records(5, 5, "x"))
	b.ReceivedAt = at(90 * time.Minute)
	ingest(t, st, b)
	got, err = st.GetAgent(ctx, "ag")
	must(t, "GetAgent", err)
	if !got.LastSeen.Equal(at(2 * time.Hour)) {
		t.Errorf("after an older batch: LastSeen = %v, want %v", got.LastSeen, at(2*time.Hour))
	}
}

func testIngestStats(t *testing.T, st model.Store) {
	createAgent(t, st, "a", "pc-a")
	createAgent(t, st, "b", "pc-b")
	createAgent(t, st, "idle", "pc-idle")
	ingest(t, st, batch("a", records(5, 9, "x")))
	ingest(t, st, batch("a", records(1, 3, "x")))
	ingest(t, st, batch("b", records(100, 199, "x")))
	ingest(t, st, batch("b", records(150, 250, "x")))
	wantStats(t, st, "a", 8, 1, 9)
	wantStats(t, st, "b", 151, 100, 250)
	wantStats(t, st, "idle", 0, 0, 0)
}

func hostFacts(name string, mem uint64) *wire.Host {
	return &wire.Host{
		Hostname: name, Domain: "kommune.local", OS: "linux", Platform: "debian", PlatformVersion: "13",
		Kernel: "6.12.0", Arch: "amd64", BootTime: 1_772_000_000, MachineID: "m-" + name,
		CPU: wire.CPU{Model: "Xeon", Cores: 4, Threads: 8}, MemoryBytes: mem,
		Interfaces: []wire.Interface{{Name: "eth0", MAC: "52:54:00:12:34:56", Addrs: []string{"10.1.2.3/24"}, Up: true, MTU: 1500}},
	}
}

func testIngestFactsNewerOnly(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc")
	send := func(seq uint64, f *wire.Host, factsAt time.Time) {
		t.Helper()
		b := batch("ag", records(seq, seq, "inv"))
		b.Facts, b.FactsAt = f, factsAt
		ingest(t, st, b)
	}
	check := func(what string, want *wire.Host, wantAt time.Time) {
		t.Helper()
		h := host(t, st, "ag")
		if !reflect.DeepEqual(h.Facts, want) || !h.FactsAt.Equal(wantAt) {
			t.Errorf("%s: facts %+v at %v, want %+v at %v", what, h.Facts, h.FactsAt, want, wantAt)
		}
	}
	if h := host(t, st, "ag"); h.Facts != nil || !h.FactsAt.IsZero() {
		t.Errorf("before any inventory: facts %+v at %v, want nil at zero", h.Facts, h.FactsAt)
	}
	v2 := hostFacts("pc", 16<<30)
	send(1, v2, at(2*time.Minute))
	check("first facts", v2, at(2*time.Minute))
	send(2, hostFacts("pc", 8<<30), at(time.Minute))
	check("after older facts", v2, at(2*time.Minute))
	send(3, hostFacts("pc", 4<<30), at(2*time.Minute))
	check("after facts of the same time", v2, at(2*time.Minute))
	send(4, nil, time.Time{})
	check("after a batch without facts", v2, at(2*time.Minute))
	v3 := hostFacts("pc-renamed", 32<<30)
	send(5, v3, at(3*time.Minute))
	check("after newer facts", v3, at(3*time.Minute))
}

func testIngestConcurrent(t *testing.T, st model.Store) {
	const agents, batches, per = 8, 25, 40
	for i := range agents {
		createAgent(t, st, fmt.Sprintf("ag%d", i), fmt.Sprintf("pc-%d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	for i := range agents {
		id := fmt.Sprintf("ag%d", i)
		wg.Go(func() {
			for k := range batches {
				from := uint64(k*per + 1)
				b := batch(id, records(from, from+per-1, id))
				res, err := st.Ingest(t.Context(), b)
				if err != nil {
					errs <- fmt.Errorf("Ingest(%s, %d..%d) = %v", id, from, from+per-1, err)
					return
				}
				if res.MaxSeq != from+per-1 || res.Inserted != per {
					errs <- fmt.Errorf("Ingest(%s, %d..%d) = %+v, want MaxSeq %d, Inserted %d", id, from, from+per-1, res, from+per-1, per)
					return
				}
				if k%5 == 4 { // resend now and then, as after a lost ack
					if res, err := st.Ingest(t.Context(), b); err != nil || res.Inserted != 0 {
						errs <- fmt.Errorf("resend to %s = %+v, %v; want 0 inserted", id, res, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	hs, err := st.ListHosts(t.Context())
	must(t, "ListHosts", err)
	if len(hs) != agents {
		t.Fatalf("ListHosts = %d hosts, want %d", len(hs), agents)
	}
	var total int64
	for _, h := range hs {
		total += h.Records
		if h.Records != batches*per || h.MinSeq != 1 || h.MaxSeq != batches*per {
			t.Errorf("host %s stats = {records %d, min %d, max %d}, want {%d, 1, %d}", h.ID, h.Records, h.MinSeq, h.MaxSeq, batches*per, batches*per)
		}
		if got := allRecords(t, st, h.ID); len(got) != batches*per {
			t.Errorf("agent %s: %d records stored, want %d", h.ID, len(got), batches*per)
		} else {
			sameRecords(t, "agent "+h.ID, got, records(1, batches*per, h.ID))
		}
	}
	if total != agents*batches*per {
		t.Errorf("total records = %d, want %d", total, agents*batches*per)
	}
}

func testRecordsPaging(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "pc")
	createAgent(t, st, "other", "pc2")
	ingest(t, st, batch("ag", records(1, 20, "x")))
	ingest(t, st, batch("other", records(1, 20, "o")))
	for _, tc := range []struct {
		after      uint64
		limit      int
		from, upto uint64 // want records from..upto; upto < from means none
	}{
		{0, 5, 1, 5},
		{3, 4, 4, 7},
		{15, 100, 16, 20},
		{20, 10, 1, 0},
		{1 << 62, 10, 1, 0},
	} {
		got, err := st.Records(ctx, "ag", tc.after, tc.limit)
		must(t, fmt.Sprintf("Records(ag, %d, %d)", tc.after, tc.limit), err)
		var want []wire.Record
		if tc.upto >= tc.from {
			want = records(tc.from, tc.upto, "x")
		}
		sameRecords(t, fmt.Sprintf("Records(ag, %d, %d)", tc.after, tc.limit), got, want)
	}
	_, err := st.Records(ctx, "ag", 0, 0)
	wantErr(t, "Records(ag, 0, 0)", err, model.ErrInvalid)
}

// Hosts.

func testHostsList(t *testing.T, st model.Store) {
	ctx := t.Context()
	hs, err := st.ListHosts(ctx)
	must(t, "ListHosts on empty store", err)
	if len(hs) != 0 {
		t.Errorf("ListHosts on empty store = %d hosts, want 0", len(hs))
	}
	createAgent(t, st, "1", "c-host")
	createAgent(t, st, "2", "a-host")
	createAgent(t, st, "3", "b-host")
	must(t, "RevokeAgent(3)", st.RevokeAgent(ctx, "3", at(time.Hour)))
	b := batch("1", records(1, 4, "x"))
	b.Facts, b.FactsAt = hostFacts("c-host", 8<<30), at(time.Minute)
	ingest(t, st, b)

	hs, err = st.ListHosts(ctx)
	must(t, "ListHosts", err)
	var names []string
	for _, h := range hs {
		names = append(names, h.Hostname)
	}
	if want := []string{"a-host", "b-host", "c-host"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("ListHosts hostnames = %v, want %v", names, want)
	}
	if h := hs[0]; h.Facts != nil || h.Records != 0 || h.Revoked() {
		t.Errorf("a-host = facts %v, records %d, revoked %v; want nil, 0, false", h.Facts, h.Records, h.Revoked())
	}
	if h := hs[1]; !h.Revoked() || !h.RevokedAt.Equal(at(time.Hour)) {
		t.Errorf("b-host RevokedAt = %v, want %v", h.RevokedAt, at(time.Hour))
	}
	h := hs[2]
	if !reflect.DeepEqual(h.Facts, hostFacts("c-host", 8<<30)) || !h.FactsAt.Equal(at(time.Minute)) {
		t.Errorf("c-host facts = %+v at %v, want %+v at %v", h.Facts, h.FactsAt, hostFacts("c-host", 8<<30), at(time.Minute))
	}
	if h.Records != 4 || h.MinSeq != 1 || h.MaxSeq != 4 || h.ID != "1" || !h.LastSeen.Equal(at(time.Hour)) {
		t.Errorf("c-host = {id %s, records %d, min %d, max %d, last seen %v}, want {1, 4, 1, 4, %v}",
			h.ID, h.Records, h.MinSeq, h.MaxSeq, h.LastSeen, at(time.Hour))
	}
}

func testHostGet(t *testing.T, st model.Store) {
	ctx := t.Context()
	a := createAgent(t, st, "ag", "pc")
	h := host(t, st, "ag")
	if !reflect.DeepEqual(normAgent(h.Agent), a) || h.Facts != nil || h.Records != 0 {
		t.Errorf("GetHost(ag) = %+v, want agent %+v without facts or records", h, a)
	}
	b := batch("ag", records(7, 9, "x"))
	b.Facts, b.FactsAt = hostFacts("pc", 1<<30), at(time.Minute)
	ingest(t, st, b)
	h = host(t, st, "ag")
	if !reflect.DeepEqual(h.Facts, hostFacts("pc", 1<<30)) || h.Records != 3 || h.MinSeq != 7 || h.MaxSeq != 9 {
		t.Errorf("GetHost(ag) = facts %+v, stats %d %d..%d; want facts, 3 7..9", h.Facts, h.Records, h.MinSeq, h.MaxSeq)
	}
	_, err := st.GetHost(ctx, "nope")
	wantErr(t, "GetHost(nope)", err, model.ErrNotFound)
}

// Users, sessions, API tokens.

func testUsers(t *testing.T, st model.Store) {
	ctx := t.Context()
	n, err := st.CountUsers(ctx)
	must(t, "CountUsers", err)
	if n != 0 {
		t.Errorf("CountUsers on empty store = %d, want 0", n)
	}
	u := model.User{Name: "kari", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", Role: model.RoleDrift, CreatedAt: at(0)}
	must(t, "CreateUser(kari)", st.CreateUser(ctx, u))
	got, err := st.GetUser(ctx, "kari")
	must(t, "GetUser(kari)", err)
	if !reflect.DeepEqual(normUser(got), u) {
		t.Errorf("GetUser(kari) = %+v, want %+v", got, u)
	}
	wantErr(t, "CreateUser(kari again)", st.CreateUser(ctx, u), model.ErrConflict)
	must(t, "CreateUser(ola)", st.CreateUser(ctx, model.User{Name: "ola", PasswordHash: "h", Role: model.RoleRevisor, CreatedAt: at(time.Minute)}))
	if n, err := st.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v; want 2", n, err)
	}

	upd := u
	upd.PasswordHash, upd.Role, upd.FailedLogins, upd.LockedUntil = "new-hash", model.RoleSikkerhet, 3, at(15*time.Minute)
	upd.CreatedAt = at(99 * time.Hour) // not updatable
	must(t, "UpdateUser(kari)", st.UpdateUser(ctx, upd))
	got, err = st.GetUser(ctx, "kari")
	must(t, "GetUser(kari)", err)
	want := upd
	want.CreatedAt = u.CreatedAt
	if !reflect.DeepEqual(normUser(got), want) {
		t.Errorf("after UpdateUser: GetUser(kari) = %+v, want %+v", got, want)
	}
	// Clearing the lockout stores the zero time.
	upd.FailedLogins, upd.LockedUntil = 0, time.Time{}
	must(t, "UpdateUser(kari) unlock", st.UpdateUser(ctx, upd))
	if got, err := st.GetUser(ctx, "kari"); err != nil || got.FailedLogins != 0 || !got.LockedUntil.IsZero() {
		t.Errorf("after unlock: GetUser(kari) = %+v, %v; want no failures, zero LockedUntil", got, err)
	}

	wantErr(t, "UpdateUser(nope)", st.UpdateUser(ctx, model.User{Name: "nope", PasswordHash: "h", Role: model.RoleAdmin}), model.ErrNotFound)
	_, err = st.GetUser(ctx, "nope")
	wantErr(t, "GetUser(nope)", err, model.ErrNotFound)
	wantErr(t, "CreateUser(bad role)", st.CreateUser(ctx, model.User{Name: "x", PasswordHash: "h", Role: "root", CreatedAt: at(0)}), model.ErrInvalid)
	if n, err := st.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers after refusals = %d, %v; want 2", n, err)
	}
}

func testSessions(t *testing.T, st model.Store) {
	ctx := t.Context()
	must(t, "CreateUser", st.CreateUser(ctx, model.User{Name: "kari", PasswordHash: "h", Role: model.RoleAdmin, CreatedAt: at(0)}))
	s := model.Session{IDHash: hash("sess1"), User: "kari", CSRF: "csrf-token", CreatedAt: at(0), ExpiresAt: at(8 * time.Hour)}
	must(t, "CreateSession", st.CreateSession(ctx, s))
	got, err := st.GetSession(ctx, hash("sess1"))
	must(t, "GetSession", err)
	if !reflect.DeepEqual(normSession(got), s) {
		t.Errorf("GetSession = %+v, want %+v", got, s)
	}
	wantErr(t, "CreateSession(same id)", st.CreateSession(ctx, s), model.ErrConflict)
	wantErr(t, "CreateSession(unknown user)",
		st.CreateSession(ctx, model.Session{IDHash: hash("sess2"), User: "ghost", CSRF: "c", CreatedAt: at(0), ExpiresAt: at(time.Hour)}),
		model.ErrNotFound)

	// Expiry is the caller's business: an expired session is still returned.
	old := model.Session{IDHash: hash("old"), User: "kari", CSRF: "c2", CreatedAt: at(-48 * time.Hour), ExpiresAt: at(-40 * time.Hour)}
	must(t, "CreateSession(old)", st.CreateSession(ctx, old))
	if got, err := st.GetSession(ctx, hash("old")); err != nil || !got.ExpiresAt.Equal(old.ExpiresAt) {
		t.Errorf("GetSession(expired) = %+v, %v; want it as stored", got, err)
	}

	must(t, "DeleteSession", st.DeleteSession(ctx, hash("sess1")))
	_, err = st.GetSession(ctx, hash("sess1"))
	wantErr(t, "GetSession after delete", err, model.ErrNotFound)
	wantErr(t, "DeleteSession again", st.DeleteSession(ctx, hash("sess1")), model.ErrNotFound)
	if _, err := st.GetSession(ctx, hash("old")); err != nil {
		t.Errorf("GetSession(old) after deleting another = %v", err)
	}
}

func testAPITokens(t *testing.T, st model.Store) {
	ctx := t.Context()
	tok := model.APIToken{ID: "0123456789abcdef", Hash: hash("s"), Role: model.RoleRevisor, Name: "evidence export", CreatedAt: at(0), CreatedBy: "kari"}
	must(t, "CreateAPIToken", st.CreateAPIToken(ctx, tok))
	got, err := st.GetAPIToken(ctx, tok.ID)
	must(t, "GetAPIToken", err)
	if !reflect.DeepEqual(normAPIToken(got), tok) {
		t.Errorf("GetAPIToken = %+v, want %+v", got, tok)
	}
	if !got.LastUsed.IsZero() {
		t.Errorf("new token LastUsed = %v, want zero", got.LastUsed)
	}
	wantErr(t, "CreateAPIToken(same id)", st.CreateAPIToken(ctx, tok), model.ErrConflict)
	must(t, "TouchAPIToken", st.TouchAPIToken(ctx, tok.ID, at(time.Hour)))
	must(t, "TouchAPIToken", st.TouchAPIToken(ctx, tok.ID, at(2*time.Hour)))
	got, err = st.GetAPIToken(ctx, tok.ID)
	must(t, "GetAPIToken", err)
	want := tok
	want.LastUsed = at(2 * time.Hour)
	if !reflect.DeepEqual(normAPIToken(got), want) {
		t.Errorf("after TouchAPIToken: GetAPIToken = %+v, want %+v", got, want)
	}
	wantErr(t, "TouchAPIToken(nope)", st.TouchAPIToken(ctx, "nope", at(0)), model.ErrNotFound)
	_, err = st.GetAPIToken(ctx, "nope")
	wantErr(t, "GetAPIToken(nope)", err, model.ErrNotFound)
	wantErr(t, "CreateAPIToken(bad role)", st.CreateAPIToken(ctx, model.APIToken{ID: "x", Hash: hash("x"), Role: "root", CreatedAt: at(0)}), model.ErrInvalid)
}

// Audit log.

func auditFixture(i int) model.AuditEvent {
	return model.AuditEvent{
		At: at(time.Duration(i) * time.Second), Actor: "kari", Action: "agent.revoke",
		Subject: fmt.Sprintf("agent-%d", i), Detail: fmt.Sprintf(`{"n":%d}`, i),
	}
}

func testAuditAppendList(t *testing.T, st model.Store) {
	ctx := t.Context()
	es, err := st.ListAudit(ctx, 0, 10)
	must(t, "ListAudit on empty store", err)
	if len(es) != 0 {
		t.Errorf("ListAudit on empty store = %d events, want 0", len(es))
	}
	var want []model.AuditEvent
	var prev int64
	for i := range 5 {
		e := auditFixture(i)
		seq, err := st.AppendAudit(ctx, e)
		must(t, "AppendAudit", err)
		if seq <= prev {
			t.Errorf("AppendAudit #%d = seq %d, want above %d", i, seq, prev)
		}
		prev = seq
		e.Seq = seq
		want = append(want, e)
	}
	got, err := st.ListAudit(ctx, 0, 100)
	must(t, "ListAudit(0, 100)", err)
	if !reflect.DeepEqual(normAudit(got), want) {
		t.Errorf("ListAudit(0, 100) = %+v, want %+v", got, want)
	}
	got, err = st.ListAudit(ctx, want[1].Seq, 2)
	must(t, "ListAudit(after #1, 2)", err)
	if !reflect.DeepEqual(normAudit(got), want[2:4]) {
		t.Errorf("ListAudit(after #1, 2) = %+v, want %+v", got, want[2:4])
	}
	got, err = st.ListAudit(ctx, want[4].Seq, 10)
	must(t, "ListAudit(after last)", err)
	if len(got) != 0 {
		t.Errorf("ListAudit(after last) = %d events, want 0", len(got))
	}
	_, err = st.ListAudit(ctx, 0, 0)
	wantErr(t, "ListAudit(0, 0)", err, model.ErrInvalid)
}

func testAuditAppendOnly(t *testing.T, st model.Store) {
	ctx := t.Context()
	for i := range 3 {
		if _, err := st.AppendAudit(ctx, auditFixture(i)); err != nil {
			t.Fatalf("AppendAudit = %v", err)
		}
	}
	before, err := st.ListAudit(ctx, 0, 100)
	must(t, "ListAudit", err)
	// Appending an event that looks like an earlier one adds; it never replaces.
	for i := range 3 {
		e := auditFixture(i)
		e.Detail = "changed"
		e.Seq = before[i].Seq // ignored: the store assigns seqs
		if _, err := st.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit = %v", err)
		}
	}
	after, err := st.ListAudit(ctx, 0, 100)
	must(t, "ListAudit", err)
	if len(after) != 6 {
		t.Fatalf("ListAudit = %d events, want 6", len(after))
	}
	if !reflect.DeepEqual(normAudit(after[:3]), normAudit(before)) {
		t.Errorf("earlier events changed: now %+v, were %+v", after[:3], before)
	}
	for i := 1; i < len(after); i++ {
		if after[i].Seq <= after[i-1].Seq {
			t.Errorf("ListAudit seqs not increasing: %d after %d", after[i].Seq, after[i-1].Seq)
		}
	}
}

func testAuditConcurrent(t *testing.T, st model.Store) {
	const writers, each = 8, 20
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq, err := st.AppendAudit(t.Context(), auditFixture(w*each+i))
				if err != nil {
					t.Errorf("AppendAudit = %v", err)
					return
				}
				mu.Lock()
				if seen[seq] {
					t.Errorf("AppendAudit returned seq %d twice", seq)
				}
				seen[seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := st.ListAudit(t.Context(), 0, 1000)
	must(t, "ListAudit", err)
	if len(got) != writers*each {
		t.Fatalf("ListAudit = %d events, want %d", len(got), writers*each)
	}
	for i, e := range got {
		if !seen[e.Seq] {
			t.Errorf("ListAudit event %d has seq %d, which no append returned", i, e.Seq)
		}
		if i > 0 && e.Seq <= got[i-1].Seq {
			t.Errorf("ListAudit seqs not increasing: %d after %d", e.Seq, got[i-1].Seq)
		}
	}
}

// Policy.

// defaultPolicy is what CurrentPolicy returns before any was stored.
var defaultPolicy = wire.Policy{Version: 1, HealthInterval: 60, InventoryInterval: 3600, RenewAfter: 2.0 / 3}

func testPolicyDefault(t *testing.T, st model.Store) {
	p, err := st.CurrentPolicy(t.Context())
	must(t, "CurrentPolicy", err)
	if p != defaultPolicy {
		t.Errorf("CurrentPolicy on empty store = %+v, want %+v", p, defaultPolicy)
	}
}

func testPolicyVersioning(t *testing.T, st model.Store) {
	ctx := t.Context()
	p1 := defaultPolicy
	p1.HealthInterval = 30
	wantErr(t, "SetPolicy(v1) over the default v1", st.SetPolicy(ctx, p1), model.ErrConflict)
	p2 := wire.Policy{Version: 2, HealthInterval: 30, InventoryInterval: 1800, RenewAfter: 0.75}
	must(t, "SetPolicy(v2)", st.SetPolicy(ctx, p2))
	if p, err := st.CurrentPolicy(ctx); err != nil || p != p2 {
		t.Errorf("CurrentPolicy = %+v, %v; want %+v", p, err, p2)
	}
	wantErr(t, "SetPolicy(v2 again)", st.SetPolicy(ctx, p2), model.ErrConflict)
	p5 := wire.Policy{Version: 5, HealthInterval: 120, InventoryInterval: 7200, RenewAfter: 2.0 / 3}
	must(t, "SetPolicy(v5)", st.SetPolicy(ctx, p5))
	p4 := p5
	p4.Version = 4
	wantErr(t, "SetPolicy(v4) below v5", st.SetPolicy(ctx, p4), model.ErrConflict)
	wantErr(t, "SetPolicy(v0)", st.SetPolicy(ctx, wire.Policy{}), model.ErrConflict)
	if p, err := st.CurrentPolicy(ctx); err != nil || p != p5 {
		t.Errorf("CurrentPolicy = %+v, %v; want %+v", p, err, p5)
	}
	// Each stored policy, and only those, is in the audit log.
	evs, err := st.ListAudit(ctx, 0, 100)
	must(t, "ListAudit", err)
	var set []string
	for _, e := range evs {
		if e.Action == "policy.set" {
			set = append(set, e.Subject)
		}
	}
	if fmt.Sprint(set) != "[policy 2 policy 5]" {
		t.Errorf("policy.set audit entries %v, want [policy 2 policy 5]", set)
	}
}
