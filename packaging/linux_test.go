//go:build linux

package packaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// Versions of the two builds: a git build, then the release it precedes
// (dpkg and rpm sort ~ before anything, so this is an upgrade).
const (
	firstVersion  = "0.9.0~git20260101.abcdef1"
	secondVersion = "0.9.0"
)

// need skips the test, or fails it under CI=true, when it cannot run here.
func need(t *testing.T, tools ...string) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("packages exist for amd64 and arm64, not %s", runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		fail("needs root to install packages with dpkg")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			fail("%s not installed (scripts/test-deps.sh installs it)", tool)
		}
	}
}

// buildPackages runs scripts/packages.sh for the host's architecture and
// returns the folder of the packages.
func buildPackages(t *testing.T, version string, formats ...string) string {
	t.Helper()
	dist := t.TempDir()
	var sel []string
	for _, f := range formats {
		sel = append(sel, runtime.GOARCH+"/"+f)
	}
	cmd := exec.Command("../scripts/packages.sh")
	cmd.Env = append(os.Environ(), "DIST="+dist, "SONEVAKT_VERSION="+version, "SONEVAKT_PACKAGES="+strings.Join(sel, ","))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/packages.sh (version %s): %v\n%s", version, err, out)
	}
	return dist
}

func debName(program, version string) string {
	return fmt.Sprintf("sonevakt-%s_%s_%s.deb", program, version, runtime.GOARCH)
}

func rpmName(program, version string) string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	return fmt.Sprintf("sonevakt-%s-%s-1.%s.rpm", program, version, arch)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkFile checks the mode and owners of path.
func checkFile(t *testing.T, path string, mode os.FileMode, owner, group string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if fi.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	u, err := user.LookupId(fmt.Sprint(st.Uid))
	if err != nil || u.Username != owner {
		t.Errorf("%s: owner uid %d (%v), want %s", path, st.Uid, err, owner)
	}
	g, err := user.LookupGroupId(fmt.Sprint(st.Gid))
	if err != nil || g.Name != group {
		t.Errorf("%s: group gid %d (%v), want %s", path, st.Gid, err, group)
	}
}

// checkSums checks dist/SHA256SUMS against the files.
func checkSums(t *testing.T, dist string, names ...string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range names {
		f, err := os.ReadFile(filepath.Join(dist, n))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(f)
		want = append(want, hex.EncodeToString(sum[:])+"  "+n)
	}
	for _, w := range want {
		if !strings.Contains(string(b), w+"\n") {
			t.Errorf("SHA256SUMS lacks %q:\n%s", w, b)
		}
	}
}

// environmental are systemd-analyze verify messages about the machine the
// test runs on (a container without a booted systemd), not about the units.
var environmental = regexp.MustCompile(`(?i)not been booted|failed to connect to bus|no such file or directory.*(/run/|/proc/)|cannot (access|find) (the )?(system|user) bus|/etc/machine-id|Failed to (open|load) .*(\.target|\.socket|\.slice)|\.target.*not found`)

// verifyUnits runs systemd-analyze verify and returns the messages that are
// not environmental.
func verifyUnits(t *testing.T, units ...string) []string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, units...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var bad []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" && !environmental.MatchString(l) {
			bad = append(bad, l)
		}
	}
	if err != nil && len(bad) == 0 {
		bad = append(bad, fmt.Sprintf("systemd-analyze verify: %v", err))
	}
	return bad
}

func dpkgInstalled(name string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", name).Output()
	return err == nil && strings.Contains(string(out), "installed")
}

var leftovers = []string{
	"/usr/bin/sonevakt-agent", "/usr/bin/sonevakt-collector",
	"/usr/lib/systemd/system/sonevakt-agent.service", "/usr/lib/systemd/system/sonevakt-collector.service",
	"/etc/systemd/system/multi-user.target.wants/sonevakt-agent.service",
	"/etc/systemd/system/multi-user.target.wants/sonevakt-collector.service",
	"/usr/share/doc/sonevakt-agent", "/usr/share/doc/sonevakt-collector",
	"/etc/sonevakt", "/var/lib/sonevakt",
}

// TestDebInstallUpgradePurge installs the debs of the agent and the
// collector on this machine, upgrades them, and purges them.
func TestDebInstallUpgradePurge(t *testing.T) {
	need(t, "dpkg", "dpkg-query", "systemd-analyze", "useradd", "rpm")
	if os.Getenv("CI") != "true" {
		if _, err := os.Stat("/run/systemd/system"); err == nil && os.Getenv("SONEVAKT_PACKAGE_TEST") == "" {
			t.Skip("systemd runs here: installing would start the services; set SONEVAKT_PACKAGE_TEST=1 to test anyway")
		}
	}
	for _, p := range []string{"sonevakt-agent", "sonevakt-collector"} {
		if dpkgInstalled(p) {
			t.Fatalf("%s is installed on this machine already; the test would replace and purge it", p)
		}
	}
	if _, err := user.Lookup("sonevakt"); err == nil {
		t.Fatal("the user sonevakt exists already; the test would delete it")
	}
	for _, p := range leftovers {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists before the test; the test would delete it", p)
		}
	}

	first := buildPackages(t, firstVersion, "deb", "rpm")
	second := buildPackages(t, secondVersion, "deb")
	checkSums(t, first, debName("agent", firstVersion), debName("collector", firstVersion),
		rpmName("agent", firstVersion), rpmName("collector", firstVersion))

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "sonevakt-agent", "sonevakt-collector").CombinedOutput(); err != nil {
			t.Logf("cleanup: dpkg --purge: %v\n%s", err, out)
		}
	})

	// Install.
	run(t, "dpkg", "-i", filepath.Join(first, debName("agent", firstVersion)), filepath.Join(first, debName("collector", firstVersion)))
	checkFile(t, "/usr/bin/sonevakt-agent", 0o755, "root", "root")
	checkFile(t, "/usr/bin/sonevakt-collector", 0o755, "root", "root")
	checkFile(t, "/usr/lib/systemd/system/sonevakt-agent.service", 0o644, "root", "root")
	checkFile(t, "/usr/lib/systemd/system/sonevakt-collector.service", 0o644, "root", "root")
	checkFile(t, "/etc/sonevakt", os.ModeDir|0o755, "root", "root")
	checkFile(t, "/etc/sonevakt/agent.yaml", 0o644, "root", "root")
	checkFile(t, "/etc/sonevakt/agent.env", 0o600, "root", "root")
	checkFile(t, "/etc/sonevakt/collector.yaml", 0o644, "root", "root")
	checkFile(t, "/var/lib/sonevakt", os.ModeDir|0o755, "root", "root")
	checkFile(t, "/var/lib/sonevakt/agent", os.ModeDir|0o700, "root", "root")
	checkFile(t, "/var/lib/sonevakt/collector", os.ModeDir|0o700, "sonevakt", "sonevakt")
	u, err := user.Lookup("sonevakt")
	if err != nil {
		t.Fatalf("user sonevakt: %v", err)
	}
	if u.HomeDir != "/var/lib/sonevakt/collector" {
		t.Errorf("user sonevakt: home %s", u.HomeDir)
	}
	conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "sonevakt-agent")
	for _, c := range []string{"/etc/sonevakt/agent.yaml", "/etc/sonevakt/agent.env"} {
		if !strings.Contains(conffiles, c+" ") {
			t.Errorf("sonevakt-agent conffiles lack %s:\n%s", c, conffiles)
		}
	}
	for _, p := range []string{"agent", "collector"} {
		if v := run(t, "/usr/bin/sonevakt-"+p, "--version"); !strings.Contains(v, firstVersion) {
			t.Errorf("sonevakt-%s --version = %q, want %s", p, v, firstVersion)
		}
	}

	// The units as installed.
	if bad := verifyUnits(t, "/usr/lib/systemd/system/sonevakt-agent.service", "/usr/lib/systemd/system/sonevakt-collector.service"); len(bad) > 0 {
		t.Errorf("systemd-analyze verify:\n%s", strings.Join(bad, "\n"))
	}
	// The filter must not hide real errors: an unknown directive is one.
	broken := filepath.Join(t.TempDir(), "sonevakt-broken.service")
	unit, _ := os.ReadFile("/usr/lib/systemd/system/sonevakt-agent.service")
	if err := os.WriteFile(broken, bytes.Replace(unit, []byte("[Service]\n"), []byte("[Service]\nProtectEverything=yes\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if bad := verifyUnits(t, broken); len(bad) == 0 {
		t.Error("systemd-analyze verify accepted a unit with an unknown directive")
	}

	// Enrollment from agent.env that fails (a malformed token) says so and
	// does not fail the postinstall script.
	if err := os.WriteFile("/etc/sonevakt/agent.env", []byte("COLLECTOR=127.0.0.1:9\nTOKEN=\"svt1.bad\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	postinst := exec.Command("/var/lib/dpkg/info/sonevakt-agent.postinst", "configure", "")
	if out, err := postinst.CombinedOutput(); err != nil {
		t.Errorf("postinst with a bad token: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "enrollment with 127.0.0.1:9 from /etc/sonevakt/agent.env failed") || !strings.Contains(string(out), "token") {
		t.Errorf("postinst with a bad token says:\n%s", out)
	}
	if _, err := os.Stat("/var/lib/sonevakt/agent/identity.json"); err == nil {
		t.Error("a failed enrollment left an identity")
	}

	// Upgrade: identity and spool stay.
	kept := map[string]string{
		"/var/lib/sonevakt/agent/identity.json":   `{"agent_id":"test"}`,
		"/var/lib/sonevakt/agent/agent.key":       "not a key",
		"/var/lib/sonevakt/agent/spool/000001":    "spooled record",
		"/var/lib/sonevakt/collector/sonevakt.db": "not a database",
		"/etc/sonevakt/agent.env":                 "# edited by the operator\n",
	}
	for p, c := range kept {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "dpkg", "-i", filepath.Join(second, debName("agent", secondVersion)), filepath.Join(second, debName("collector", secondVersion)))
	for p, c := range kept {
		if b, err := os.ReadFile(p); err != nil || string(b) != c {
			t.Errorf("after the upgrade %s = %q (%v), want %q", p, b, err, c)
		}
	}
	checkFile(t, "/var/lib/sonevakt/agent", os.ModeDir|0o700, "root", "root")
	checkFile(t, "/var/lib/sonevakt/collector", os.ModeDir|0o700, "sonevakt", "sonevakt")
	checkFile(t, "/var/lib/sonevakt/collector/sonevakt.db", 0o600, "sonevakt", "sonevakt")
	checkFile(t, "/etc/sonevakt/agent.env", 0o600, "root", "root")
	for _, p := range []string{"agent", "collector"} {
		if v := run(t, "dpkg-query", "-W", "-f=${Version}", "sonevakt-"+p); v != secondVersion+"-1" {
			t.Errorf("sonevakt-%s version after the upgrade: %q, want %s-1", p, v, secondVersion)
		}
		if v := run(t, "/usr/bin/sonevakt-"+p, "--version"); !strings.Contains(v, secondVersion) || strings.Contains(v, "~") {
			t.Errorf("sonevakt-%s --version = %q, want %s", p, v, secondVersion)
		}
	}

	// Purge: nothing is left.
	run(t, "dpkg", "--purge", "sonevakt-agent", "sonevakt-collector")
	for _, p := range leftovers {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left after the purge", p)
		}
	}
	if _, err := user.Lookup("sonevakt"); err == nil {
		t.Error("the user sonevakt is left after the purge")
	}
	if _, err := user.LookupGroup("sonevakt"); err == nil {
		t.Error("the group sonevakt is left after the purge")
	}
	for _, p := range []string{"sonevakt-agent", "sonevakt-collector"} {
		if out, err := exec.Command("dpkg-query", "-W", p).CombinedOutput(); err == nil {
			t.Errorf("dpkg still knows %s after the purge: %s", p, out)
		}
	}

	// The rpms, inspected without installing.
	inspectRPMs(t, first)
}

// inspectRPMs checks files, modes, owners, config flags and scriptlets of
// the rpms in dist.
func inspectRPMs(t *testing.T, dist string) {
	for _, tc := range []struct {
		program string
		files   map[string]string // path -> "mode owner group config"
		scripts []string
	}{
		{"agent", map[string]string{
			"/usr/bin/sonevakt-agent":                        "0100755 root root 0",
			"/usr/lib/systemd/system/sonevakt-agent.service": "0100644 root root 0",
			"/etc/sonevakt/agent.yaml":                       "0100644 root root 1",
			"/etc/sonevakt/agent.env":                        "0100600 root root 1",
			"/var/lib/sonevakt":                              "040755 root root 0",
			"/var/lib/sonevakt/agent":                        "040700 root root 0",
		}, []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "sonevakt-agent enroll", "rm -rf /var/lib/sonevakt/agent"}},
		{"collector", map[string]string{
			"/usr/bin/sonevakt-collector":                        "0100755 root root 0",
			"/usr/lib/systemd/system/sonevakt-collector.service": "0100644 root root 0",
			"/etc/sonevakt/collector.yaml":                       "0100644 root root 1",
			"/var/lib/sonevakt/collector":                        "040700 root root 0",
		}, []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "useradd --system", "userdel sonevakt"}},
	} {
		file := filepath.Join(dist, rpmName(tc.program, firstVersion))
		// --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink
		dump := run(t, "rpm", "-qlp", "--dump", file)
		got := map[string]string{}
		for _, l := range strings.Split(dump, "\n") {
			f := strings.Fields(l)
			if len(f) >= 8 && strings.HasPrefix(f[0], "/") {
				got[f[0]] = strings.Join([]string{f[4], f[5], f[6], f[7]}, " ")
			}
		}
		for p, want := range tc.files {
			if got[p] != want {
				t.Errorf("%s: %s is %q, want %q", filepath.Base(file), p, got[p], want)
			}
		}
		scripts := run(t, "rpm", "-qp", "--scripts", file)
		for _, s := range tc.scripts {
			if !strings.Contains(scripts, s) {
				t.Errorf("%s: scriptlets lack %q", filepath.Base(file), s)
			}
		}
		wantQF := fmt.Sprintf("sonevakt-%s %s 1", tc.program, firstVersion)
		if q := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE}", file); q != wantQF {
			t.Errorf("%s: %q, want %q", filepath.Base(file), q, wantQF)
		}
	}
}
