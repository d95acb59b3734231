//go:build sonevakt_faketime

package clock

import (
	"fmt"
	"os"
	"time"
)

// The fault tests' hook (see the package comment): never in a release build.
func init() {
	v := os.Getenv("SONEVAKT_FAKE_CLOCK_OFFSET")
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "SONEVAKT_FAKE_CLOCK_OFFSET %q: %v\n", v, err)
		os.Exit(2)
	}
	offset = d
	fmt.Fprintf(os.Stderr, "FAKE CLOCK: this sonevakt_faketime test build runs %v off the real time\n", d)
}
