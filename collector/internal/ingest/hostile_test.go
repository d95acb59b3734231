package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// syncBuf is a log sink the test can read while the server writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits until the log holds every one of want.
func (s *syncBuf) waitLog(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing := ""
		out := s.String()
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector log lacks %q:\n%s", missing, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newLoggedHarness is newHarness with the server's and the authority's log
// kept for the test to read.
func newLoggedHarness(t *testing.T) (*harness, *syncBuf) {
	h := newHarness(t)
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.auth = enroll.New(h.ca, h.st, enroll.Options{Logger: log})
	conf, err := h.auth.ServerTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Store: h.st, Authority: h.auth, TLS: conf, Logger: log})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h.srv, h.addr = srv, srv.Addr().String()
	return h, logs
}

// rawExchange writes raw bytes on a new stream, ends the stream, and reads
// the answer to a batch.
func rawExchange(c *quic.Conn, raw []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	_ = st.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := st.Write(raw); err != nil {
		return err
	}
	st.Close()
	var ack wire.Ack
	return wire.ReadExpect(st, wire.FrameAck, &ack)
}

// frame encodes v as one frame of type t, without WriteFrame's size check.
func frame(t *testing.T, ft wire.FrameType, v any) []byte {
	t.Helper()
	p, err := wire.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return rawFrame(ft, p)
}

func rawFrame(ft wire.FrameType, payload []byte) []byte {
	b := []byte{byte(ft), byte(len(payload) >> 24), byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload))}
	return append(b, payload...)
}

// storedSeqs returns the seqs stored for an agent.
func storedSeqs(t *testing.T, h *harness, agent string) []wire.Record {
	t.Helper()
	rs, err := h.st.Records(context.Background(), agent, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestHostileFramesRefused sends an enrolled agent's malformed and
// oversized frames, records and batches over QUIC with mTLS to a collector
// on a real SQLite store: each is refused on its stream with the code that
// names the fault, the collector logs it, nothing is stored, the same
// connection still delivers a good batch and another agent is served all
// along.
func TestHostileFramesRefused(t *testing.T) {
	h, logs := newLoggedHarness(t)
	bad := h.dial(h.agentTLS("mallory"))
	other := h.dial(h.agentTLS("alice"))

	rec := func(mod func(*wire.Record)) wire.Batch {
		rs := records(1, 2)
		mod(&rs[1])
		return wire.Batch{Records: rs}
	}
	many := make([]wire.Record, wire.MaxBatchCount+1)
	for i := range many {
		many[i] = wire.Record{Seq: uint64(i + 1), Kind: wire.KindHealth, Body: []byte{0xa0}}
	}
	healthy, _ := wire.Marshal(wire.Batch{Records: records(1, 1)})

	cases := []struct {
		name string
		raw  []byte
		want wire.Code
	}{
		{"unknown frame type", []byte{99, 0, 0, 0, 0}, wire.CodeMalformed},
		{"frame type 0", []byte{0, 0, 0, 0, 1, 0xa0}, wire.CodeMalformed},
		{"ack from an agent", frame(t, wire.FrameAck, wire.Ack{MaxSeq: 1 << 40}), wire.CodeMalformed},
		{"policy from an agent", frame(t, wire.FramePolicy, wire.Policy{Version: 99}), wire.CodeMalformed},
		{"enroll response from an agent", frame(t, wire.FrameEnrollResponse, wire.EnrollResponse{AgentID: "alice"}), wire.CodeMalformed},
		{"truncated header", []byte{byte(wire.FrameBatch), 0}, wire.CodeMalformed},
		{"truncated payload", append([]byte{byte(wire.FrameBatch), 0, 0, 0, 100}, healthy[:10]...), wire.CodeMalformed},
		{"oversized control frame", []byte{byte(wire.FrameHello), 0x00, 0x10, 0x00, 0x01}, wire.CodeMalformed},
		{"oversized batch frame", []byte{byte(wire.FrameBatch), 0xff, 0xff, 0xff, 0xff}, wire.CodeBatchTooLarge},
		{"empty batch", frame(t, wire.FrameBatch, wire.Batch{}), wire.CodeMalformed},
		{"record without seq", frame(t, wire.FrameBatch, rec(func(r *wire.Record) { r.Seq = 0 })), wire.CodeMalformed},
		{"seq going back", frame(t, wire.FrameBatch, rec(func(r *wire.Record) { r.Seq = 1 })), wire.CodeMalformed},
		{"record without kind", frame(t, wire.FrameBatch, rec(func(r *wire.Record) { r.Kind = "" })), wire.CodeMalformed},
		{"record with a long kind", frame(t, wire.FrameBatch, rec(func(r *wire.Record) { r.Kind = wire.Kind(strings.Repeat("k", 33)) })), wire.CodeMalformed},
		{"unknown body encoding", frame(t, wire.FrameBatch, rec(func(r *wire.Record) { r.Enc = 9 })), wire.CodeMalformed},
		{"record over the size limit", frame(t, wire.FrameBatch, rec(func(r *wire.Record) { r.Body = make([]byte, wire.MaxRecordSize+1) })), wire.CodeRecordTooLarge},
		{"too many records", frame(t, wire.FrameBatch, wire.Batch{Records: many}), wire.CodeBatchTooLarge},
		{"duplicate map key", rawFrame(wire.FrameBatch, append([]byte{0xa2, 0x01, 0x80, 0x01}, healthy[2:]...)), wire.CodeMalformed},
		{"indefinite length", rawFrame(wire.FrameBatch, []byte{0xa1, 0x01, 0x9f, 0xff}), wire.CodeMalformed},
		{"tagged payload", rawFrame(wire.FrameBatch, append([]byte{0xd8, 0x20}, healthy...)), wire.CodeMalformed},
		{"hello of the wrong type", rawFrame(wire.FrameHello, []byte{0xa1, 0x01, 0x63, 'o', 'n', 'e'}), wire.CodeMalformed},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	otherErr := make(chan error, 1)
	// Another agent keeps sending while the hostile one is refused.
	wg.Add(1)
	go func() {
		defer wg.Done()
		seq := 1
		for {
			select {
			case <-stop:
				return
			default:
			}
			var ack wire.Ack
			if err := exchange(other, wire.FrameBatch, wire.Batch{Records: records(seq, 5)}, wire.FrameAck, &ack); err != nil || ack.MaxSeq != uint64(seq+4) {
				otherErr <- fmt.Errorf("alice's batch from %d: ack %+v, %v", seq, ack, err)
				return
			}
			seq += 5
		}
	}()
	for _, tc := range cases {
		err := rawExchange(bad, tc.raw)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != tc.want || we.Message == "" {
			t.Errorf("%s: %v, want an error frame with code %s and a reason", tc.name, err, tc.want)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-otherErr:
		t.Errorf("another agent was not served while frames were refused: %v", err)
	default:
	}
	if rs := storedSeqs(t, h, "mallory"); len(rs) != 0 {
		t.Errorf("refused frames stored %d records", len(rs))
	}
	logs.waitLog(t, "request refused", "record too large", "batch too large", "malformed frame")
	// The hostile agent's connection is still usable for a sound batch.
	var ack wire.Ack
	if err := exchange(bad, wire.FrameBatch, wire.Batch{Records: records(1, 3)}, wire.FrameAck, &ack); err != nil || ack.Stored != 3 {
		t.Errorf("good batch after refusals: %+v, %v", ack, err)
	}
	if hs, err := h.st.GetHost(context.Background(), "alice"); err != nil || hs.Records == 0 || hs.MaxSeq != uint64(hs.Records) {
		t.Errorf("alice = %+v, %v; want contiguous records", hs, err)
	}
}

// TestReplayOtherAgentsSeqs: an agent with a valid certificate that sends
// the sequence numbers, and then the very records, of another agent only
// ever writes its own records; the other agent's records and sequence stay
// as they were.
func TestReplayOtherAgentsSeqs(t *testing.T) {
	h := newHarness(t)
	alice := h.dial(h.agentTLS("alice"))
	mallory := h.dial(h.agentTLS("mallory"))
	ctx := context.Background()

	aliceRecs := records(1, 10)
	var ack wire.Ack
	if err := exchange(alice, wire.FrameBatch, wire.Batch{Records: aliceRecs}, wire.FrameAck, &ack); err != nil || ack.Stored != 10 {
		t.Fatalf("alice: %+v, %v", ack, err)
	}
	// Mallory's own records under alice's seqs, then alice's very records.
	mine := make([]wire.Record, 10)
	for i := range mine {
		r, _ := wire.NewRecord(wire.KindHealth, time.Unix(1800000000, int64(i)), wire.Health{AgentVersion: "mallory", RSSBytes: 1 << 30})
		r.Seq = uint64(i + 1)
		mine[i] = r
	}
	if err := exchange(mallory, wire.FrameBatch, wire.Batch{Records: mine}, wire.FrameAck, &ack); err != nil || ack.MaxSeq != 10 || ack.Stored != 10 {
		t.Fatalf("mallory's first batch: %+v, %v; want all 10 stored as mallory's", ack, err)
	}
	ack = wire.Ack{} // omitempty fields: decode into a zero value
	if err := exchange(mallory, wire.FrameBatch, wire.Batch{Records: aliceRecs}, wire.FrameAck, &ack); err != nil || ack.MaxSeq != 10 || ack.Stored != 0 {
		t.Fatalf("mallory replaying alice's records: %+v, %v; want duplicates of mallory's own", ack, err)
	}
	// Alice goes on where she was.
	ack = wire.Ack{}
	if err := exchange(alice, wire.FrameBatch, wire.Batch{Records: records(11, 2)}, wire.FrameAck, &ack); err != nil || ack.MaxSeq != 12 || ack.Stored != 2 {
		t.Fatalf("alice after the replay: %+v, %v; want 11 and 12 stored", ack, err)
	}

	got := storedSeqs(t, h, "alice")
	want := append(append([]wire.Record{}, aliceRecs...), records(11, 2)...)
	if len(got) != len(want) {
		t.Fatalf("alice holds %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || !bytes.Equal(got[i].Body, want[i].Body) || got[i].Kind != want[i].Kind {
			t.Errorf("alice's record %d changed: %+v, want %+v", want[i].Seq, got[i], want[i])
		}
	}
	gotM := storedSeqs(t, h, "mallory")
	if len(gotM) != 10 {
		t.Fatalf("mallory holds %d records, want 10", len(gotM))
	}
	for i, r := range gotM {
		if !bytes.Equal(r.Body, mine[i].Body) {
			t.Errorf("mallory's record %d is not mallory's", r.Seq)
		}
	}
	for id, n := range map[string]int64{"alice": 12, "mallory": 10} {
		if hs, err := h.st.GetHost(ctx, id); err != nil || hs.Records != n || hs.MaxSeq != uint64(n) {
			t.Errorf("host %s = %+v, %v; want %d records", id, hs, err, n)
		}
	}
}

// forcedCert dials with cert presented whatever the server's CA list says.
func (h *harness) forcedCert(t *testing.T, cert []byte, key any) error {
	t.Helper()
	conf := h.serverTLS()
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &tls.Certificate{Certificate: [][]byte{cert}, PrivateKey: key}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, h.addr, conf, QUICConfig())
	if err != nil {
		return err
	}
	defer c.CloseWithError(0, "")
	var ack wire.Ack
	return exchange(c, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack)
}

// TestBadCertificatesRefused: an expired certificate of this CA, one of a
// foreign CA, one of a revoked agent and one naming an agent the collector
// never enrolled are refused at the handshake or on the first frame, the
// collector's log names each, and nothing is stored.
func TestBadCertificatesRefused(t *testing.T) {
	h, logs := newLoggedHarness(t)
	ctx := context.Background()
	enrolled := func(id string) {
		if err := h.st.CreateAgent(ctx, model.Agent{ID: id, Fingerprint: fmt.Sprintf("%064x", len(id)), Hostname: id, EnrolledAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(ca *pki.CA, id string, now time.Time) ([]byte, any) {
		key, _ := pki.NewKey()
		csr, _ := pki.CSR(key, id)
		cert, err := ca.SignAgent(csr, id, time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		return cert.Raw, key
	}

	// Expired: issued by our CA for an enrolled agent, two hours ago for one.
	enrolled("expired0000000000000000000000001")
	cert, key := sign(h.ca, "expired0000000000000000000000001", time.Now().Add(-2*time.Hour))
	if err := h.forcedCert(t, cert, key); !isTLSRefusal(err) {
		t.Errorf("expired certificate: %v, want a TLS refusal", err)
	}
	logs.waitLog(t, "expired0000000000000000000000001", "expired")

	// Foreign CA, for an id that is enrolled here.
	enrolled("foreign0000000000000000000000001")
	other, _ := pki.NewCA("other", time.Now())
	cert, key = sign(other, "foreign0000000000000000000000001", time.Now())
	if err := h.forcedCert(t, cert, key); !isTLSRefusal(err) {
		t.Errorf("foreign CA: %v, want a TLS refusal", err)
	}
	logs.waitLog(t, "foreign0000000000000000000000001", "unknown authority")

	// Revoked.
	conf := h.agentTLS("revoked0000000000000000000000001")
	if err := h.auth.Revoke(ctx, "revoked0000000000000000000000001", "test"); err != nil {
		t.Fatal(err)
	}
	if err := h.forcedCert(t, conf.Certificates[0].Certificate[0], conf.Certificates[0].PrivateKey); appCode(err) != wire.CodeRevoked {
		t.Errorf("revoked agent: %v, want the connection closed with %s", err, wire.CodeRevoked)
	}
	logs.waitLog(t, "agent refused", "revoked0000000000000000000000001 was revoked")

	// Our CA, but an agent this collector does not know.
	cert, key = sign(h.ca, "unknown0000000000000000000000001", time.Now())
	if err := h.forcedCert(t, cert, key); appCode(err) != wire.CodeUnauthenticated {
		t.Errorf("unknown agent: %v, want the connection closed with %s", err, wire.CodeUnauthenticated)
	}
	logs.waitLog(t, "unknown0000000000000000000000001 is not enrolled")

	for _, id := range []string{"expired0000000000000000000000001", "foreign0000000000000000000000001", "revoked0000000000000000000000001", "unknown0000000000000000000000001"} {
		if rs := storedSeqs(t, h, id); len(rs) != 0 {
			t.Errorf("%s: %d records stored", id, len(rs))
		}
	}
	// And a good agent is served.
	var ack wire.Ack
	if err := exchange(h.dial(h.agentTLS("good")), wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack); err != nil || ack.Stored != 1 {
		t.Errorf("good agent after the refusals: %+v, %v", ack, err)
	}
}

// isTLSRefusal reports whether err is a handshake refusal (a TLS alert as a
// QUIC transport error).
func isTLSRefusal(err error) bool {
	var te *quic.TransportError
	return errors.As(err, &te) && te.ErrorCode.IsCryptoError()
}

// appCode returns the wire code of a connection closed by the collector, or
// of an error frame.
func appCode(err error) wire.Code {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) {
		return wire.Code(ae.ErrorCode)
	}
	return wire.CodeOf(err)
}
