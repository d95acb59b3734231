package wire

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Kind names what a record's body holds.
type Kind string

// Record kinds.
const (
	KindHello      Kind = "hello"      // Hello: the agent (re)connected or started
	KindInventory  Kind = "inventory"  // Inventory: full snapshot or delta
	KindMedia      Kind = "media"      // removable-media event
	KindFlows      Kind = "flows"      // aggregated flows of an interval
	KindNeighbours Kind = "neighbours" // devices seen on the wire
	KindSockets    Kind = "sockets"    // per-process connection table
	KindHealth     Kind = "health"     // Health: the agent's own state
)

// Body encodings.
const (
	EncCBOR     uint8 = 0 // body is plain CBOR
	EncCBORZstd uint8 = 1 // body is zstd-compressed CBOR
)

// Record is one observation, as spooled by the agent and stored by the collector.
// Seq is per agent and strictly increasing; (agent, seq) is the idempotency key.
type Record struct {
	Seq        uint64 `cbor:"1,keyasint"`
	Kind       Kind   `cbor:"2,keyasint"`
	ObservedAt int64  `cbor:"3,keyasint"` // Unix nanoseconds
	Body       []byte `cbor:"4,keyasint"`
	Enc        uint8  `cbor:"5,keyasint,omitempty"`
}

// Time returns ObservedAt as a time.Time.
func (r Record) Time() time.Time { return time.Unix(0, r.ObservedAt) }

// NewRecord encodes body as CBOR (zstd-compressed above CompressThreshold) into a
// record without a sequence number; the spool assigns it.
func NewRecord(kind Kind, at time.Time, body any) (Record, error) {
	b, err := Marshal(body)
	if err != nil {
		return Record{}, fmt.Errorf("encode %s body: %w", kind, err)
	}
	if len(b) > MaxRecordSize {
		return Record{}, Errorf(CodeRecordTooLarge, "%s body is %d bytes, limit %d", kind, len(b), MaxRecordSize)
	}
	r := Record{Kind: kind, ObservedAt: at.UnixNano(), Body: b}
	if len(b) > CompressThreshold {
		r.Body = encoder().EncodeAll(b, make([]byte, 0, len(b)/3))
		r.Enc = EncCBORZstd
	}
	return r, nil
}

// DecodeBody decodes the record's body into v, decompressing when needed. A body
// that decompresses to more than MaxRecordSize is refused without being read whole.
func (r Record) DecodeBody(v any) error {
	raw, err := r.RawBody()
	if err != nil {
		return err
	}
	if err := Unmarshal(raw, v); err != nil {
		return Errorf(CodeMalformed, "record %d (%s): %v", r.Seq, r.Kind, err)
	}
	return nil
}

// RawBody returns the record's CBOR body, decompressed.
func (r Record) RawBody() ([]byte, error) {
	switch r.Enc {
	case EncCBOR:
		if len(r.Body) > MaxRecordSize {
			return nil, Errorf(CodeRecordTooLarge, "record %d is %d bytes, limit %d", r.Seq, len(r.Body), MaxRecordSize)
		}
		return r.Body, nil
	case EncCBORZstd:
		d, err := zstd.NewReader(bytes.NewReader(r.Body), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxRecordSize*2))
		if err != nil {
			return nil, Errorf(CodeMalformed, "record %d: zstd: %v", r.Seq, err)
		}
		defer d.Close()
		out, err := io.ReadAll(io.LimitReader(d, MaxRecordSize+1))
		if err != nil {
			return nil, Errorf(CodeMalformed, "record %d: zstd: %v", r.Seq, err)
		}
		if len(out) > MaxRecordSize {
			return nil, Errorf(CodeRecordTooLarge, "record %d decompresses to over %d bytes", r.Seq, MaxRecordSize)
		}
		return out, nil
	default:
		return nil, Errorf(CodeMalformed, "record %d: unknown body encoding %d", r.Seq, r.Enc)
	}
}

// Check validates a record's envelope: a sequence number, a kind, a body under
// the limit.
func (r Record) Check() error {
	if r.Seq == 0 {
		return Errorf(CodeMalformed, "record without sequence number")
	}
	if r.Kind == "" || len(r.Kind) > 32 {
		return Errorf(CodeMalformed, "record %d: bad kind %q", r.Seq, r.Kind)
	}
	if len(r.Body) > MaxRecordSize {
		return Errorf(CodeRecordTooLarge, "record %d is %d bytes, limit %d", r.Seq, len(r.Body), MaxRecordSize)
	}
	if r.Enc > EncCBORZstd {
		return Errorf(CodeMalformed, "record %d: unknown body encoding %d", r.Seq, r.Enc)
	}
	return nil
}

var (
	encOnce sync.Once
	enc     *zstd.Encoder
)

func encoder() *zstd.Encoder {
	encOnce.Do(func() {
		enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	})
	return enc
}
