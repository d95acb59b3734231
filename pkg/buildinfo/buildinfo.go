// Package buildinfo holds the version and commit of the running binary, set at
// link time with -ldflags "-X github.com/sonevakt/sonevakt/pkg/buildinfo.Version=…".
package buildinfo

import "runtime/debug"

// Set by the linker; the defaults say a developer build.
var (
	Version = "dev"
	Commit  = ""
)

// String returns "version (commit)" or the version alone.
func String() string {
	c := Commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			}
		}
	}
	if c == "" {
		return Version
	}
	return Version + " (" + c + ")"
}
