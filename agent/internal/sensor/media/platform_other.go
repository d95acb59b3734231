//go:build !linux && !windows

package media

import (
	"fmt"
	"runtime"
)

func newPlatform(platformOptions) (platform, error) {
	return nil, fmt.Errorf("media watching is not supported on %s", runtime.GOOS)
}
