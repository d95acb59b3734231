package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// newFor returns a pointer to the value a frame of type t decodes into.
func newFor(t FrameType) any {
	switch t {
	case FrameError:
		return new(Error)
	case FrameHello:
		return new(Hello)
	case FramePolicy:
		return new(Policy)
	case FrameBatch:
		return new(Batch)
	case FrameAck:
		return new(Ack)
	case FrameEnrollRequest:
		return new(EnrollRequest)
	case FrameEnrollResponse:
		return new(EnrollResponse)
	case FrameRenewRequest:
		return new(RenewRequest)
	case FrameRenewResponse:
		return new(RenewResponse)
	case FramePolicyAck:
		return new(PolicyAck)
	}
	return nil
}

// bodyFor returns a pointer to the value a record of kind k decodes into.
func bodyFor(k Kind) any {
	switch k {
	case KindHello:
		return new(Hello)
	case KindInventory:
		return new(Inventory)
	case KindMedia:
		return new(MediaEvent)
	case KindFlows:
		return new(Flows)
	case KindNeighbours:
		return new(Neighbours)
	case KindSockets:
		return new(Sockets)
	case KindHealth:
		return new(Health)
	}
	return nil
}

var fuzzKinds = []Kind{KindHello, KindInventory, KindMedia, KindFlows, KindNeighbours, KindSockets, KindHealth}

// seedBodies is one plausible body of every record kind.
func seedBodies() map[Kind]any {
	big := make([]Package, 200) // over CompressThreshold: travels zstd-compressed
	for i := range big {
		big[i] = Package{Name: "pkg" + strings.Repeat("x", i%17), Version: "1.0-" + string(rune('a'+i%26)), Arch: "amd64"}
	}
	return map[Kind]any{
		KindHello: Hello{Version: 1, AgentVersion: "1.2.3", Hostname: "pc-01", OS: "linux", Arch: "amd64", PolicyVersion: 4, BootTime: 1700000000},
		KindInventory: Inventory{Hash: "abc", Full: true,
			Host:     &Host{Hostname: "pc-01", OS: "linux", CPU: CPU{Model: "x", Cores: 2, Threads: 4}, Interfaces: []Interface{{Name: "eth0", MAC: "00:11:22:33:44:55", Addrs: []string{"10.0.0.2/24"}, Up: true}}},
			Software: big, Users: []User{{Name: "root"}}, Warnings: []string{"/var/lib/dpkg/status:3: bad line"}},
		KindMedia: MediaEvent{Action: "add", Device: MediaDevice{Class: "usb-storage", Name: "sdb", VID: "0781", PID: "5581", Serial: "123", Volumes: []MediaVolume{{}}},
			Decision: &MediaDecision{}, Mount: &MediaMountInfo{}},
		KindFlows: Flows{Start: 1, End: 2, Source: "capture:eth0", Flows: []Flow{{Proto: "tcp", Src: "10.0.0.1", Dst: "10.0.0.2", DPort: 443, SrcZone: "a", DstZone: "b", Packets: 3, Bytes: 300, Verdict: "allowed", Process: &FlowProcess{}}},
			Zones: []ZoneCount{{}}},
		KindNeighbours: Neighbours{Source: "capture:eth0", Devices: []Neighbour{{MAC: "00:11:22:33:44:55", IPs: []string{"10.0.0.9"}, SeenBy: []string{"arp"}}}},
		KindSockets:    Sockets{Conns: []Socket{{Proto: "tcp", Local: "10.0.0.1:22", State: "LISTEN"}}, Total: 1},
		KindHealth:     Health{AgentVersion: "1.2.3", RSSBytes: 1 << 20, CPUPercent: 0.5, Sensors: []SensorStatus{{Name: "media", State: "running"}}},
	}
}

// checkWireError asserts that a decode error is a protocol error with a
// refusal code and a message saying what was wrong.
func checkWireError(t *testing.T, err error, what string) {
	t.Helper()
	var we *Error
	if !errors.As(err, &we) {
		t.Fatalf("%s: error %v (%T) is not a *wire.Error", what, err, err)
	}
	switch we.Code {
	case CodeMalformed, CodeRecordTooLarge, CodeBatchTooLarge:
	default:
		t.Fatalf("%s: error code %s, want malformed or too large: %v", what, we.Code, err)
	}
	if we.Message == "" {
		t.Fatalf("%s: error without a message", what)
	}
}

// reencode asserts that a decoded value is a fixed point: encoding it, decoding
// that and encoding again gives the same bytes (NaN-safe, unlike DeepEqual).
func reencode(t *testing.T, v any, fresh func() any, what string) {
	t.Helper()
	b1, err := Marshal(v)
	if err != nil {
		t.Fatalf("%s: re-encode a decoded value: %v", what, err)
	}
	w := fresh()
	if err := Unmarshal(b1, w); err != nil {
		t.Fatalf("%s: decode our own encoding: %v\n%x", what, err, b1)
	}
	b2, err := Marshal(w)
	if err != nil {
		t.Fatalf("%s: re-encode twice: %v", what, err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("%s: encoding not stable:\n%x\n%x", what, b1, b2)
	}
}

// FuzzDecodePayload feeds every frame type the network can carry, in either
// direction, to DecodePayload: a success must re-encode to a stable value, a
// batch must satisfy the envelope rules, a failure must be a refusal code.
func FuzzDecodePayload(f *testing.F) {
	rec := func(seq uint64, k Kind) Record {
		r, err := NewRecord(k, time.Unix(1700000000, 0), seedBodies()[k])
		if err != nil {
			f.Fatal(err)
		}
		r.Seq = seq
		return r
	}
	var recs []Record
	for i, k := range fuzzKinds {
		recs = append(recs, rec(uint64(i+1), k))
	}
	seeds := map[FrameType]any{
		FrameError:          Error{Code: CodeRateLimited, Message: "slow down"},
		FrameHello:          seedBodies()[KindHello],
		FramePolicy:         Policy{Version: 3, HealthInterval: 60, InventoryInterval: 3600, RenewAfter: 0.6, Media: &MediaPolicy{Mode: MediaModeAudit}, Zones: &ZonePolicy{}},
		FrameBatch:          Batch{Records: recs},
		FrameAck:            Ack{MaxSeq: 7, Stored: 7, InventoryHash: "abc", InventoryFull: true},
		FrameEnrollRequest:  EnrollRequest{Version: 1, TokenID: "0123456789abcdef", Secret: "s", CSR: []byte{0x30, 0x82}, Fingerprint: "ff", Hostname: "pc-01"},
		FrameEnrollResponse: EnrollResponse{AgentID: "a1", Cert: []byte{0x30}, CA: []byte{0x30}},
		FrameRenewRequest:   RenewRequest{CSR: []byte{0x30, 0x82, 1}},
		FrameRenewResponse:  RenewResponse{Cert: []byte{0x30}},
		FramePolicyAck:      PolicyAck{Version: 3},
	}
	for ft, v := range seeds {
		b, err := Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(ft), b)
	}
	f.Add(uint8(FrameBatch), []byte{0xa1, 0x01, 0x80})                    // empty batch
	f.Add(uint8(FrameBatch), []byte{0xa1, 0x01, 0x9f, 0xff})              // indefinite length
	f.Add(uint8(FrameHello), []byte{0xa2, 0x01, 0x01, 0x01, 0x02})        // duplicate key
	f.Add(uint8(FrameHello), []byte{0xc1, 0xa1, 0x01, 0x01})              // tagged
	f.Add(uint8(FrameAck), []byte{0xa1, 0x01, 0x3b, 0xff, 0, 0, 0, 0, 0}) // negative MaxSeq
	f.Fuzz(func(t *testing.T, ftb uint8, payload []byte) {
		ft := FrameError + FrameType((ftb-1)%uint8(FramePolicyAck)) // seeds use the type itself
		v := newFor(ft)
		err := DecodePayload(ft, payload, v)
		if err != nil {
			checkWireError(t, err, "frame")
			return
		}
		reencode(t, v, func() any { return newFor(ft) }, "frame")
		b, ok := v.(*Batch)
		if !ok {
			return
		}
		if n := len(b.Records); n == 0 || n > MaxBatchCount {
			t.Fatalf("batch of %d records accepted, limit 1..%d", n, MaxBatchCount)
		}
		var prev uint64
		for _, r := range b.Records {
			if r.Check() != nil || r.Seq <= prev {
				t.Fatalf("accepted record %d breaks the envelope rules (prev %d)", r.Seq, prev)
			}
			prev = r.Seq
			if raw, err := r.RawBody(); err != nil {
				checkWireError(t, err, "record body")
			} else if len(raw) > MaxRecordSize {
				t.Fatalf("record %d body %d bytes over the limit", r.Seq, len(raw))
			}
		}
	})
}

// FuzzRecordBody decodes record bodies of every kind, plain and compressed,
// as the collector does on ingest: a decoded body must survive NewRecord and
// decode back to the same value, a failure must name the record.
func FuzzRecordBody(f *testing.F) {
	for i, k := range fuzzKinds {
		r, err := NewRecord(k, time.Unix(1700000000, 0), seedBodies()[k])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), r.Enc, r.Body)
		if r.Enc == EncCBOR {
			z := encoder().EncodeAll(r.Body, nil)
			f.Add(uint8(i), EncCBORZstd, z)
		}
	}
	f.Add(uint8(0), EncCBORZstd, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58}) // truncated zstd
	f.Add(uint8(1), uint8(7), []byte{0xa0})
	f.Fuzz(func(t *testing.T, ki uint8, enc uint8, body []byte) {
		k := fuzzKinds[int(ki)%len(fuzzKinds)]
		r := Record{Seq: 42, Kind: k, ObservedAt: 1, Body: body, Enc: enc}
		v := bodyFor(k)
		err := r.DecodeBody(v)
		if err != nil {
			checkWireError(t, err, "body")
			if !strings.Contains(err.Error(), "record 42") {
				t.Fatalf("error does not name the record: %v", err)
			}
			return
		}
		if r.Enc > EncCBORZstd {
			t.Fatalf("body with unknown encoding %d decoded", r.Enc)
		}
		reencode(t, v, func() any { return bodyFor(k) }, string(k))
		// What the collector decoded, an agent must be able to send again.
		r2, err := NewRecord(k, time.Unix(0, 1), v)
		if err != nil {
			// A small body can decode to a larger value (e.g. a compressed
			// body near the limit); only the size limit may refuse it.
			if CodeOf(err) != CodeRecordTooLarge {
				t.Fatalf("NewRecord of a decoded %s body: %v", k, err)
			}
			return
		}
		r2.Seq = 1
		if err := r2.Check(); err != nil {
			t.Fatalf("NewRecord made a record Check refuses: %v", err)
		}
		w := bodyFor(k)
		if err := r2.DecodeBody(w); err != nil {
			t.Fatalf("decode a re-encoded %s body: %v", k, err)
		}
		a, _ := Marshal(v)
		b, _ := Marshal(w)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s body changed through NewRecord:\n%x\n%x", k, a, b)
		}
	})
}

// FuzzParseToken: a token that parses renders back to the same string
// (trimmed), and every part has its exact length.
func FuzzParseToken(f *testing.F) {
	f.Add("svt1.0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA")
	f.Add(" svt1.0123456789ABCDEF.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA\n")
	f.Add("svt1...")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "token: ") {
				t.Fatalf("error does not say it is about the token: %v", err)
			}
			return
		}
		if tok.String() != strings.TrimSpace(s) {
			t.Fatalf("String() = %q, parsed from %q", tok.String(), s)
		}
		if len(tok.ID) != 16 || len(tok.Secret) != 43 || len(tok.Pin) != 43 {
			t.Fatalf("parts of wrong length accepted: %+v", tok)
		}
		if _, err := ParseToken(tok.String()); err != nil {
			t.Fatalf("rendered token does not parse: %v", err)
		}
	})
}

// TestBatchCountLimit: a batch of more than MaxBatchCount records is refused
// by the decoder even though each record is fine.
func TestBatchCountLimit(t *testing.T) {
	recs := make([]Record, MaxBatchCount+1)
	for i := range recs {
		recs[i] = Record{Seq: uint64(i + 1), Kind: KindHealth, Body: []byte{0xa0}}
	}
	b, err := Marshal(Batch{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	err = DecodePayload(FrameBatch, b, new(Batch))
	if CodeOf(err) != CodeBatchTooLarge || !strings.Contains(err.Error(), "10001 records") {
		t.Fatalf("DecodePayload(%d records) = %v, want batch too large naming the count", len(recs), err)
	}
	b, _ = Marshal(Batch{Records: recs[:MaxBatchCount]})
	if err := DecodePayload(FrameBatch, b, new(Batch)); err != nil {
		t.Fatalf("DecodePayload(%d records) = %v", MaxBatchCount, err)
	}
}
