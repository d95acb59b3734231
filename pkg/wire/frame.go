package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
)

// FrameType is the first byte of every frame.
type FrameType uint8

// Frame types. Values are part of the protocol: never renumber.
const (
	FrameError          FrameType = 1  // Error, either direction
	FrameHello          FrameType = 2  // Hello, agent -> collector, opens a control stream
	FramePolicy         FrameType = 3  // Policy, collector -> agent on the control stream
	FrameBatch          FrameType = 4  // Batch, agent -> collector, one per stream
	FrameAck            FrameType = 5  // Ack, collector -> agent, answers a batch
	FrameEnrollRequest  FrameType = 6  // EnrollRequest, agent -> collector, no client certificate
	FrameEnrollResponse FrameType = 7  // EnrollResponse
	FrameRenewRequest   FrameType = 8  // RenewRequest, agent -> collector over mTLS
	FrameRenewResponse  FrameType = 9  // RenewResponse
	FramePolicyAck      FrameType = 10 // PolicyAck, agent -> collector: policy persisted
)

// frameHeaderSize is the type byte and a big-endian uint32 payload length.
const frameHeaderSize = 5

// MaxPayload returns the largest payload a frame of type t may carry.
func MaxPayload(t FrameType) int {
	if t == FrameBatch {
		return MaxBatchSize
	}
	return MaxControlSize
}

// Batch is a run of leased records; the collector stores it in one transaction.
type Batch struct {
	Records []Record `cbor:"1,keyasint"`
}

// Ack answers a batch once it is committed: every record up to MaxSeq is stored.
type Ack struct {
	MaxSeq uint64 `cbor:"1,keyasint"`
	Stored int    `cbor:"2,keyasint,omitempty"` // records new to the store (the rest were duplicates)
	// InventoryHash is the hash of the newest inventory snapshot the collector
	// holds for the agent; the agent sends deltas against it.
	InventoryHash string `cbor:"3,keyasint,omitempty"`
	// InventoryFull asks the agent for a full inventory snapshot (the collector
	// could not apply a delta, or lost its copy).
	InventoryFull bool `cbor:"4,keyasint,omitempty"`
}

// Policy is what the collector wants the agent to do. The agent persists the last
// one and keeps enforcing it while offline.
type Policy struct {
	Version           uint64 `cbor:"1,keyasint" json:"version"`
	HealthInterval    int64  `cbor:"2,keyasint" json:"health_interval_s"`    // seconds
	InventoryInterval int64  `cbor:"3,keyasint" json:"inventory_interval_s"` // seconds
	// RenewBefore is the fraction of a certificate's life after which the agent renews.
	RenewAfter float64 `cbor:"4,keyasint,omitempty" json:"renew_after,omitempty"`
	// Media says how removable media are judged; nil means audit, no marking.
	Media *MediaPolicy `cbor:"5,keyasint,omitempty" json:"media,omitempty"`
	// Zones is the zone table and firewall map flows are classified and
	// judged by; nil when the collector has none (flows are then not judged).
	Zones *ZonePolicy `cbor:"6,keyasint,omitempty" json:"zones,omitempty"`
}

// PolicyAck tells the collector which policy the agent now holds.
type PolicyAck struct {
	Version uint64 `cbor:"1,keyasint"`
}

// EnrollRequest is sent on a connection without a client certificate.
type EnrollRequest struct {
	Version     int    `cbor:"1,keyasint"`
	TokenID     string `cbor:"2,keyasint"`
	Secret      string `cbor:"3,keyasint"`
	CSR         []byte `cbor:"4,keyasint"` // DER, PKCS #10
	Fingerprint string `cbor:"5,keyasint"` // hardware fingerprint, hex SHA-256
	Hostname    string `cbor:"6,keyasint"`
}

// EnrollResponse carries the agent's identity.
type EnrollResponse struct {
	AgentID string `cbor:"1,keyasint"`
	Cert    []byte `cbor:"2,keyasint"` // DER
	CA      []byte `cbor:"3,keyasint"` // DER
}

// RenewRequest asks for a new certificate for the key in CSR, over mTLS.
type RenewRequest struct {
	CSR []byte `cbor:"1,keyasint"`
}

// RenewResponse carries the renewed certificate.
type RenewResponse struct {
	Cert []byte `cbor:"1,keyasint"`
}

// WriteFrame encodes v as CBOR and writes it as one frame of type t.
func WriteFrame(w io.Writer, t FrameType, v any) error {
	payload, err := em.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame %d: %w", t, err)
	}
	if len(payload) > MaxPayload(t) {
		code := CodeMalformed
		if t == FrameBatch {
			code = CodeBatchTooLarge
		}
		return Errorf(code, "frame %d is %d bytes, limit %d", t, len(payload), MaxPayload(t))
	}
	buf := make([]byte, frameHeaderSize, frameHeaderSize+len(payload))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:], uint32(len(payload)))
	_, err = w.Write(append(buf, payload...))
	return err
}

// ReadFrame reads one frame header and its payload. The length is checked against
// the type's limit before the payload is allocated. io.EOF means the stream ended
// cleanly before a frame began.
func ReadFrame(r io.Reader) (FrameType, []byte, error) {
	var h [frameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:1]); err != nil {
		return 0, nil, err
	}
	if _, err := io.ReadFull(r, h[1:]); err != nil {
		return 0, nil, Errorf(CodeMalformed, "truncated frame header: %v", err)
	}
	t := FrameType(h[0])
	if t < FrameError || t > FramePolicyAck {
		return 0, nil, Errorf(CodeMalformed, "unknown frame type %d", t)
	}
	n := binary.BigEndian.Uint32(h[1:])
	if int64(n) > int64(MaxPayload(t)) {
		code := CodeMalformed
		if t == FrameBatch {
			code = CodeBatchTooLarge
		}
		return t, nil, Errorf(code, "frame %d announces %d bytes, limit %d", t, n, MaxPayload(t))
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return t, nil, Errorf(CodeMalformed, "truncated frame %d: %v", t, err)
	}
	return t, payload, nil
}

// ReadExpect reads one frame and decodes it into v. A FrameError from the peer is
// returned as its *Error; any other unexpected type is CodeMalformed.
func ReadExpect(r io.Reader, want FrameType, v any) error {
	t, payload, err := ReadFrame(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Errorf(CodeMalformed, "stream ended before frame %d", want)
		}
		return err
	}
	if t == FrameError && want != FrameError {
		var e Error
		if err := Unmarshal(payload, &e); err != nil {
			return Errorf(CodeMalformed, "error frame: %v", err)
		}
		return &e
	}
	if t != want {
		return Errorf(CodeMalformed, "got frame %d, want %d", t, want)
	}
	return DecodePayload(t, payload, v)
}

// DecodePayload decodes a frame payload into v and, for batches, checks every
// record's envelope.
func DecodePayload(t FrameType, payload []byte, v any) error {
	if err := Unmarshal(payload, v); err != nil {
		return Errorf(CodeMalformed, "frame %d: %v", t, err)
	}
	if b, ok := v.(*Batch); ok {
		if len(b.Records) == 0 {
			return Errorf(CodeMalformed, "empty batch")
		}
		if len(b.Records) > MaxBatchCount {
			return Errorf(CodeBatchTooLarge, "batch of %d records, limit %d", len(b.Records), MaxBatchCount)
		}
		var prev uint64
		for _, r := range b.Records {
			if err := r.Check(); err != nil {
				return err
			}
			if r.Seq <= prev {
				return Errorf(CodeMalformed, "batch sequence not increasing at %d", r.Seq)
			}
			prev = r.Seq
		}
	}
	return nil
}

// WriteError writes an error frame; used before resetting a stream so that the
// peer learns the reason, not only the code.
func WriteError(w io.Writer, e *Error) error { return WriteFrame(w, FrameError, e) }

var (
	em cbor.EncMode
	dm cbor.DecMode
)

func init() {
	var err error
	em, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	dm, err = cbor.DecOptions{
		MaxArrayElements:  MaxBatchCount * 4,
		MaxMapPairs:       1 << 16,
		MaxNestedLevels:   24,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorNone,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v as deterministic CBOR.
func Marshal(v any) ([]byte, error) { return em.Marshal(v) }

// Unmarshal decodes CBOR with the protocol's limits; unknown fields are ignored.
func Unmarshal(b []byte, v any) error { return dm.Unmarshal(b, v) }
