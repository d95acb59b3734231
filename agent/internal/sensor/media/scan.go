package media

import (
	"io"
	"log/slog"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// ScanOptions say what Scan lists and reads.
type ScanOptions struct {
	// SysRoot is where sysfs is (Linux; "/sys" when empty).
	SysRoot string
	// IncludeLoop lists loop devices with a backing file as media.
	IncludeLoop bool
	// ReadVolumes reads every volume's facts and marking through the
	// system's device nodes; only meaningful when SysRoot is the live one.
	ReadVolumes bool
	// Policy names the marking looked for when volumes are read.
	Policy wire.MediaPolicy
}

// Scan lists the removable media attached now, as the sensor reports them
// at start (without a decision): identity, volumes and, with ReadVolumes,
// what each volume's bytes say and where it is mounted.
func Scan(opts ScanOptions) ([]wire.MediaDevice, error) {
	log := slog.New(slog.DiscardHandler)
	p, err := newPlatform(platformOptions{SysRoot: opts.SysRoot, IncludeLoop: opts.IncludeLoop, Logger: log})
	if err != nil {
		return nil, err
	}
	if c, ok := p.(io.Closer); ok {
		defer c.Close()
	}
	devs, err := p.Scan()
	if err != nil {
		return nil, err
	}
	if !opts.ReadVolumes {
		for _, d := range devs {
			for i := range d.Volumes {
				d.Volumes[i].Encrypted = "unknown" // not read
			}
		}
		return devs, nil
	}
	s := newSensor(sensor.Env{Logger: log}, p)
	for i := range devs {
		devs[i] = s.readVolumes(devs[i], opts.Policy)
	}
	return devs, nil
}
