package svc

import (
	"embed"
	"fmt"
	"path/filepath"
	"strings"
)

// The systemd units the Linux packages ship (packaging/linux installs the
// same files), so "service install" installs exactly the packaged unit.
//
//go:embed units/*.service
var units embed.FS

// Unit returns the packaged systemd unit for service name with its
// ExecStart set to exe and args, and dataDir added to ReadWritePaths when
// the unit does not list it yet.
func Unit(name, exe string, args []string, dataDir string) (string, error) {
	b, err := units.ReadFile("units/" + name + ".service")
	if err != nil {
		return "", fmt.Errorf("no packaged systemd unit for %s", name)
	}
	exec := "ExecStart=" + systemdQuote(exe)
	for _, a := range args {
		exec += " " + systemdQuote(a)
	}
	if strings.ContainsAny(exec, "\n\r") {
		return "", fmt.Errorf("unit %s: command line holds a line break", name)
	}
	rw := ""
	if dataDir != "" {
		if abs, err := filepath.Abs(dataDir); err == nil {
			dataDir = abs
		}
		rw = "ReadWritePaths=" + systemdQuote(dataDir)
	}
	var out []string
	seenExec := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "ExecStart="):
			line, seenExec = exec, true
		case rw != "" && strings.HasPrefix(line, "ReadWritePaths="):
			for _, p := range strings.Fields(strings.TrimPrefix(line, "ReadWritePaths=")) {
				if p == dataDir {
					rw = ""
				}
			}
			if rw != "" {
				out = append(out, line)
				line, rw = rw, ""
			}
		}
		out = append(out, line)
	}
	if !seenExec {
		return "", fmt.Errorf("packaged unit for %s has no ExecStart line", name)
	}
	u := strings.Join(out, "\n")
	// kardianos renders the unit as a template; a plain unit has no actions.
	if strings.Contains(u, "{{") {
		return "", fmt.Errorf("unit %s: \"{{\" would be read as a template action", name)
	}
	return u, nil
}

// systemdQuote quotes one command-line word for ExecStart: specifiers (%)
// and variables ($) are escaped, words with blanks or quotes double-quoted.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}
