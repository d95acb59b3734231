package inventory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/shirou/gopsutil/v4/host"
)

// Domain returns what `hostname -d` prints, without running it: the part
// after the first dot of the hostname if it has one; else of the canonical
// name that etc/hosts gives the hostname, if it lists it; else the domain the
// resolver would try first (etc/resolv.conf: the last domain or search line).
func (s system) Domain(_ context.Context, hostname string) (string, error) {
	return domainFrom(s.root, hostname)
}

func domainFrom(root, hostname string) (string, error) {
	hostname = strings.TrimSuffix(hostname, ".")
	if hostname == "" || strings.EqualFold(hostname, "localhost") {
		return "", nil
	}
	if _, d, ok := strings.Cut(hostname, "."); ok {
		return d, nil
	}
	d, listed, err := hostsDomain(filepath.Join(root, "etc/hosts"), hostname)
	if err != nil || listed {
		return d, err
	}
	return resolvDomain(filepath.Join(root, "etc/resolv.conf"))
}

// hostsDomain looks hostname up in a hosts file and returns the domain of its
// canonical name (the first name on the line), and whether it was listed.
func hostsDomain(path, hostname string) (domain string, listed bool, err error) {
	b, err := readOptional(path)
	if err != nil || b == nil {
		return "", false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, n := range f[1:] {
			if strings.EqualFold(n, hostname) {
				_, d, _ := strings.Cut(strings.TrimSuffix(f[1], "."), ".")
				return d, true, nil
			}
		}
	}
	return "", false, sc.Err()
}

// resolvDomain returns the local domain of a resolv.conf: the domain line's,
// or the first entry of the search line, whichever comes last (resolv.conf(5)).
func resolvDomain(path string) (string, error) {
	b, err := readOptional(path)
	if err != nil || b == nil {
		return "", err
	}
	var domain string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "domain":
			domain = strings.TrimSuffix(f[1], ".")
		case "search":
			domain = ""
			for _, d := range f[1:] {
				if d = strings.TrimSuffix(d, "."); d != "" {
					domain = d
					break
				}
			}
		}
	}
	return domain, sc.Err()
}

// MachineID returns the systemd/D-Bus machine id: etc/machine-id, or the
// older var/lib/dbus/machine-id.
func (s system) MachineID(context.Context, *host.InfoStat) (string, error) {
	for _, p := range []string{"etc/machine-id", "var/lib/dbus/machine-id"} {
		b, err := readOptional(filepath.Join(s.root, p))
		if err != nil {
			return "", err
		}
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	return "", nil
}

// readOptional reads a file that may be missing; a missing file gives nil.
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
