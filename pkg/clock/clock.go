// Package clock is the collector's "now" for what the clock-skew fault tests
// shift: the CA and server certificates it issues, agent certificates, and
// the received_at of what agents send. In every production build Now is
// time.Now.
//
// Why a hook in the process: Go reads the time through the vDSO, not libc,
// so libfaketime does not move it, and time namespaces do not shift
// CLOCK_REALTIME; changing the machine's clock would move every process on
// a shared test machine. So the fault tests build the collector with
// -tags sonevakt_faketime (not "faketime": that tag is the Go
// runtime's own playground clock), which compiles offset_fakeclock.go: it reads
// SONEVAKT_FAKE_CLOCK_OFFSET (a Go duration, "3h" or "-3h") and shifts Now
// by it. Without the tag nothing reads that variable (e2e checks that the
// shipped binary does not contain its name).
package clock

import "time"

// offset shifts Now; only offset_fakeclock.go sets it.
var offset time.Duration

// Now returns the current time, shifted in sonevakt_faketime test builds.
func Now() time.Time { return time.Now().Add(offset) }
