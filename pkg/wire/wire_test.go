package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 5)
	r1, err := NewRecord(KindHealth, at, Health{AgentVersion: "v1", RSSBytes: 42})
	if err != nil {
		t.Fatal(err)
	}
	big := Host{Hostname: strings.Repeat("h", 10000)}
	r2, err := NewRecord(KindInventory, at, Inventory{Full: true, Host: &big})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Enc != EncCBORZstd {
		t.Errorf("body of %d bytes not compressed", len(big.Hostname))
	}
	r1.Seq, r2.Seq = 1, 2
	var buf bytes.Buffer
	if err := WriteFrame(&buf, FrameBatch, Batch{Records: []Record{r1, r2}}); err != nil {
		t.Fatal(err)
	}
	var b Batch
	if err := ReadExpect(&buf, FrameBatch, &b); err != nil {
		t.Fatal(err)
	}
	var inv Inventory
	if err := b.Records[1].DecodeBody(&inv); err != nil {
		t.Fatal(err)
	}
	if inv.Host.Hostname != big.Hostname || b.Records[0].Time() != at {
		t.Errorf("round trip lost data: host %d bytes, time %v", len(inv.Host.Hostname), b.Records[0].Time())
	}
}

func TestReadFrameRefusals(t *testing.T) {
	header := func(ft FrameType, n uint32) []byte {
		h := make([]byte, 5)
		h[0] = byte(ft)
		binary.BigEndian.PutUint32(h[1:], n)
		return h
	}
	tests := []struct {
		name string
		in   []byte
		code Code
	}{
		{"oversized batch", header(FrameBatch, MaxBatchSize+1), CodeBatchTooLarge},
		{"oversized control", header(FrameHello, MaxControlSize+1), CodeMalformed},
		{"unknown type", header(99, 1), CodeMalformed},
		{"truncated header", []byte{byte(FrameAck), 0}, CodeMalformed},
		{"truncated payload", append(header(FrameAck, 10), 1, 2), CodeMalformed},
	}
	for _, tt := range tests {
		_, _, err := ReadFrame(bytes.NewReader(tt.in))
		if CodeOf(err) != tt.code {
			t.Errorf("%s: ReadFrame err = %v (code %v), want code %v", tt.name, err, CodeOf(err), tt.code)
		}
	}
	if _, _, err := ReadFrame(bytes.NewReader(nil)); !errors.Is(err, io.EOF) {
		t.Errorf("ReadFrame(empty) = %v, want io.EOF", err)
	}
}

func TestBatchChecks(t *testing.T) {
	enc := func(b Batch) []byte {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, FrameBatch, b); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name string
		b    Batch
		code Code
	}{
		{"empty", Batch{}, CodeMalformed},
		{"seq zero", Batch{Records: []Record{{Seq: 0, Kind: KindHealth}}}, CodeMalformed},
		{"not increasing", Batch{Records: []Record{{Seq: 2, Kind: KindHealth}, {Seq: 2, Kind: KindHealth}}}, CodeMalformed},
		{"no kind", Batch{Records: []Record{{Seq: 1}}}, CodeMalformed},
		{"bad enc", Batch{Records: []Record{{Seq: 1, Kind: KindHealth, Enc: 9}}}, CodeMalformed},
		{"record too large", Batch{Records: []Record{{Seq: 1, Kind: KindHealth, Body: make([]byte, MaxRecordSize+1)}}}, CodeRecordTooLarge},
	}
	for _, tt := range tests {
		var b Batch
		err := ReadExpect(bytes.NewReader(enc(tt.b)), FrameBatch, &b)
		if CodeOf(err) != tt.code {
			t.Errorf("%s: err = %v, want code %v", tt.name, err, tt.code)
		}
	}
}

func TestZstdBomb(t *testing.T) {
	r, err := NewRecord(KindInventory, time.Now(), Inventory{Host: &Host{Hostname: strings.Repeat("a", 1<<20)}})
	if err != nil {
		t.Fatal(err)
	}
	// Re-compress a body larger than the limit by hand.
	huge := make([]byte, MaxRecordSize+10)
	r.Body = encoder().EncodeAll(huge, nil)
	r.Seq = 1
	if _, err := r.RawBody(); CodeOf(err) != CodeRecordTooLarge {
		t.Errorf("RawBody of a %d-byte bomb = %v, want record too large", len(huge), err)
	}
}

func TestErrorFrame(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteError(&buf, Errorf(CodeTokenExpired, "token abc expired at X")); err != nil {
		t.Fatal(err)
	}
	var resp EnrollResponse
	err := ReadExpect(&buf, FrameEnrollResponse, &resp)
	if CodeOf(err) != CodeTokenExpired || !strings.Contains(err.Error(), "expired at X") {
		t.Errorf("ReadExpect = %v, want the peer's token-expired error", err)
	}
}

func TestUnknownFieldsIgnored(t *testing.T) {
	b, err := Marshal(map[int]any{1: uint64(7), 99: "future"})
	if err != nil {
		t.Fatal(err)
	}
	var a Ack
	if err := Unmarshal(b, &a); err != nil || a.MaxSeq != 7 {
		t.Errorf("Unmarshal with unknown key = %+v, %v", a, err)
	}
}

func TestToken(t *testing.T) {
	good := "svt1.0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA"
	tok, err := ParseToken(good)
	if err != nil {
		t.Fatalf("ParseToken(good) = %v", err)
	}
	if tok.String() != good {
		t.Errorf("String() = %q, want %q", tok.String(), good)
	}
	for _, bad := range []string{"", "svt2.a.b.c", "svt1.xyz.AAAA.BBBB", good[:len(good)-4], strings.Replace(good, "0123", "zzzz", 1)} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) succeeded", bad)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	r, _ := NewRecord(KindHealth, time.Unix(1, 0), Health{RSSBytes: 1})
	r.Seq = 1
	_ = WriteFrame(&buf, FrameBatch, Batch{Records: []Record{r}})
	f.Add(buf.Bytes())
	buf.Reset()
	_ = WriteFrame(&buf, FrameHello, Hello{Version: 1, Hostname: "h"})
	f.Add(buf.Bytes())
	f.Add([]byte{4, 0, 0, 0, 1, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		ft, payload, err := ReadFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		switch ft {
		case FrameBatch:
			var b Batch
			if DecodePayload(ft, payload, &b) == nil {
				for _, r := range b.Records {
					_, _ = r.RawBody()
				}
			}
		case FrameHello:
			var h Hello
			_ = DecodePayload(ft, payload, &h)
		case FrameEnrollRequest:
			var e EnrollRequest
			_ = DecodePayload(ft, payload, &e)
		default:
			var e Error
			_ = DecodePayload(ft, payload, &e)
		}
	})
}
