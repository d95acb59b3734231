// Package wire is the contract between sonevakt-agent and sonevakt-collector:
// the ALPN and server name, the frames that travel on QUIC streams (records,
// batches, acks, policy, enrollment, renewal), their CBOR encoding with explicit
// integer keys, the size limits that are enforced before any allocation, and the
// application error codes used for every refusal.
//
// It owns nothing else: no networking, no storage. Both sides import it; it
// imports neither.
package wire
