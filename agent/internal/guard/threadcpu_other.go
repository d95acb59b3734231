//go:build !linux && !windows

package guard

import "time"

// threadCPU is unknown here; rounds are charged their wall time.
func threadCPU() (time.Duration, bool) { return 0, false }
