package wire

import "time"

// Protocol constants.
const (
	// ALPN is negotiated on every QUIC and TLS/TCP connection.
	ALPN = "sonevakt/1"
	// Version is the protocol version sent in hellos and enrollment requests.
	Version = 1
	// ServerName is the DNS name every collector certificate carries and every
	// agent verifies, whatever address it dialled: the CA is private to one
	// municipality, so the name only has to be unique within it.
	ServerName = "collector.sonevakt.internal"
	// DefaultPort is the UDP (QUIC) and TCP (TLS fallback) port of the agent listener.
	DefaultPort = 7443
)

// Limits, enforced by the decoder before it allocates.
const (
	MaxRecordSize  = 4 << 20  // one record's body, after decompression
	MaxBatchSize   = 16 << 20 // one batch frame's payload
	MaxControlSize = 1 << 20  // any other frame's payload
	MaxBatchCount  = 10000    // records in one batch
	// CompressThreshold is the body size above which bodies are zstd-compressed.
	CompressThreshold = 4 << 10
)

// Timeouts shared by both sides.
const (
	KeepAlivePeriod = 15 * time.Second
	MaxIdleTimeout  = 60 * time.Second
)
