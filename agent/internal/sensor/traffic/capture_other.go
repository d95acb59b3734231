//go:build !linux && !windows

package traffic

import (
	"fmt"
	"runtime"

	"github.com/gopacket/gopacket"
)

// openLive has no capture to open on this operating system; the sensor
// reports the error in its flows records and the agent runs on.
func openLive(iface string, _ captureConfig) (source, error) {
	return nil, fmt.Errorf("open capture %s: %w on %s", iface, ErrUnsupported, runtime.GOOS)
}

// ancillaryVLAN: no capture, no tags.
func ancillaryVLAN(*gopacket.CaptureInfo) (uint16, bool) { return 0, false }
