package inventory

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The services section: systemd service units on Linux (services_linux.go
// runs systemctl, the parsing is here), Windows services from the service
// control manager (services_windows.go, the mapping is here). State and
// StartMode keep each system's own words where they differ: systemd's unit
// file states (enabled, disabled, static, masked …) and Windows' start types
// (auto, auto-delayed, manual, disabled, boot, system).

func init() {
	addPart(wire.SectionServices, fillServices)
}

// systemdUnit is a line of `systemctl list-units --plain --no-legend`.
type systemdUnit struct {
	name, load, active, sub, description string
}

// parseListUnits parses the output of `systemctl list-units --type=service
// --all --no-legend --no-pager --plain`: UNIT LOAD ACTIVE SUB DESCRIPTION,
// padded with blanks. Some systemd versions mark failed and not-found units
// with a leading "●" (or "*" outside UTF-8 locales) even with --plain.
func parseListUnits(out []byte, warn func(string, ...any)) []systemdUnit {
	var units []systemdUnit
	sc := bufio.NewScanner(bytes.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		rest := strings.TrimSpace(sc.Text())
		if rest == "" {
			continue
		}
		if r, ok := strings.CutPrefix(rest, "●"); ok {
			rest = strings.TrimSpace(r)
		} else if r, ok := strings.CutPrefix(rest, "* "); ok {
			rest = strings.TrimSpace(r)
		}
		var f [4]string
		for i := range f {
			f[i], rest, _ = strings.Cut(rest, " ")
			rest = strings.TrimLeft(rest, " ")
		}
		if f[3] == "" || !strings.Contains(f[0], ".") {
			warn("systemctl list-units:%d: cannot read %q", n, sc.Text())
			continue
		}
		units = append(units, systemdUnit{name: f[0], load: f[1], active: f[2], sub: f[3], description: rest})
	}
	return units
}

// parseListUnitFiles parses the output of `systemctl list-unit-files
// --type=service --no-legend --no-pager`: UNIT-FILE STATE [PRESET]. It
// returns each unit file's state.
func parseListUnitFiles(out []byte, warn func(string, ...any)) map[string]string {
	files := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || !strings.Contains(f[0], ".") {
			warn("systemctl list-unit-files:%d: cannot read %q", n, sc.Text())
			continue
		}
		files[f[0]] = f[1]
	}
	return files
}

// systemdServices joins the loaded units and the unit files into services.
// A unit file that is not loaded is a stopped service; templates
// (getty@.service) and aliases are not services of their own, and neither is
// a unit that is referenced but not found and not running. An instance
// (getty@tty1.service) without a unit file state of its own takes its
// template's.
func systemdServices(units []systemdUnit, files map[string]string) []wire.Service {
	var out []wire.Service
	seen := map[string]bool{}
	for _, u := range units {
		if u.load == "not-found" && u.active == "inactive" || seen[u.name] {
			continue
		}
		seen[u.name] = true
		out = append(out, wire.Service{Name: u.name, Display: u.description, State: systemdState(u.active, u.sub),
			StartMode: unitFileState(files, u.name)})
	}
	for name, state := range files {
		if seen[name] || strings.HasSuffix(name, "@.service") || state == "alias" {
			continue
		}
		seen[name] = true
		out = append(out, wire.Service{Name: name, State: "stopped", StartMode: state})
	}
	return out
}

// unitFileState returns the unit file state of unit, or of its template.
func unitFileState(files map[string]string, unit string) string {
	if s, ok := files[unit]; ok {
		return s
	}
	if at := strings.IndexByte(unit, '@'); at > 0 {
		if dot := strings.LastIndexByte(unit, '.'); dot > at {
			return files[unit[:at+1]+unit[dot:]]
		}
	}
	return ""
}

// systemdState tells a unit's state from its ACTIVE and SUB columns:
// running, exited (a oneshot that ran), stopped, failed, starting, stopping,
// or systemd's own word.
func systemdState(active, sub string) string {
	switch active {
	case "active", "reloading", "refreshing":
		if sub == "" || sub == "reload" {
			return "running"
		}
		return sub // running, exited, waiting …
	case "inactive":
		return "stopped"
	case "activating":
		return "starting"
	case "deactivating":
		return "stopping"
	}
	return active // failed, maintenance
}

// Windows service states (SERVICE_STATUS.dwCurrentState) and start types
// (QUERY_SERVICE_CONFIG.dwStartType), from winsvc.h and winnt.h.
const (
	winServiceStopped         = 1
	winServiceStartPending    = 2
	winServiceStopPending     = 3
	winServiceRunning         = 4
	winServiceContinuePending = 5
	winServicePausePending    = 6
	winServicePaused          = 7

	winServiceBootStart   = 0
	winServiceSystemStart = 1
	winServiceAutoStart   = 2
	winServiceDemandStart = 3
	winServiceDisabled    = 4
)

// windowsService describes a Windows service from what the service control
// manager says of it; account is the ServiceStartName it runs as.
func windowsService(name, display string, state, startType uint32, delayed bool, account string) wire.Service {
	s := wire.Service{Name: name, Display: display, Account: account}
	switch state {
	case winServiceStopped:
		s.State = "stopped"
	case winServiceStartPending:
		s.State = "starting"
	case winServiceStopPending:
		s.State = "stopping"
	case winServiceRunning:
		s.State = "running"
	case winServiceContinuePending:
		s.State = "continuing"
	case winServicePausePending:
		s.State = "pausing"
	case winServicePaused:
		s.State = "paused"
	default:
		s.State = "unknown"
	}
	switch startType {
	case winServiceBootStart:
		s.StartMode = "boot"
	case winServiceSystemStart:
		s.StartMode = "system"
	case winServiceAutoStart:
		s.StartMode = "auto"
		if delayed {
			s.StartMode = "auto-delayed"
		}
	case winServiceDemandStart:
		s.StartMode = "manual"
	case winServiceDisabled:
		s.StartMode = "disabled"
	}
	return s
}
