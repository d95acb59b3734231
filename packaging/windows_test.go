package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The MSI's UpgradeCode: Windows Installer's identity of the product across versions. It must
// never change (packaging/windows/sonevakt-agent.wxs), or upgrades install side by side.
const upgradeCode = "{41757805-17C0-47FA-9808-383DEF3BB5C7}"

const msiVersion = "1.2.3"

// needTools skips a test whose tools are missing, unless CI=true, where scripts/test-deps.sh
// installs them and a skip would hide a gap.
func needTools(t *testing.T, tools map[string]string) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			fail("%s not installed (Debian package %s; scripts/test-deps.sh installs it)", tool, pkg)
		}
	}
}

var windowsTools = map[string]string{
	"go":           "golang",
	"wixl":         "wixl",
	"msiinfo":      "msitools",
	"msibuild":     "msitools",
	"msiextract":   "msitools",
	"osslsigncode": "osslsigncode",
	"openssl":      "openssl",
}

// packageWindows runs scripts/package-windows.sh into dist with the given extra environment.
func packageWindows(t *testing.T, dist string, env ...string) string {
	t.Helper()
	cmd := exec.Command("../scripts/package-windows.sh")
	cmd.Env = append(os.Environ(), "VERSION="+msiVersion, "DIST="+dist)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/package-windows.sh: %v\n%s", err, out)
	}
	return string(out)
}

// msiTable exports one table of an MSI as rows of columns (the three header lines dropped).
func msiTable(t *testing.T, msi, table string) [][]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s: %v", table, err)
	}
	lines := strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %d lines: %q", table, len(lines), out)
	}
	var rows [][]string
	for _, l := range lines[3:] {
		if l != "" {
			rows = append(rows, strings.Split(l, "\t"))
		}
	}
	return rows
}

// byKey indexes rows by their first column.
func byKey(rows [][]string) map[string][]string {
	m := map[string][]string{}
	for _, r := range rows {
		m[r[0]] = r
	}
	return m
}

func verify(cafile, file string) ([]byte, error) {
	return exec.Command("osslsigncode", "verify", "-CAfile", cafile, "-in", file).CombinedOutput()
}

// TestWindowsMSI builds the signed agent and MSI as `make packages` does (throwaway test
// certificate) and checks the MSI's tables and both signatures.
func TestWindowsMSI(t *testing.T) {
	needTools(t, windowsTools)
	dist := t.TempDir()
	cert := filepath.Join(t.TempDir(), "test-cert.pem")
	out := packageWindows(t, dist, "SONEVAKT_SIGN_CERT=", "SONEVAKT_SIGN_CERT_OUT="+cert)
	if !strings.Contains(out, "THROWAWAY SELF-SIGNED") {
		t.Errorf("the script does not say it signs with a throwaway certificate:\n%s", out)
	}
	msi := filepath.Join(dist, "sonevakt-agent-"+msiVersion+"-x64.msi")
	exe := filepath.Join(dist, "sonevakt-agent-"+msiVersion+"-windows-amd64.exe")
	for _, f := range []string{msi, exe} {
		if !strings.Contains(out, filepath.Base(f)) {
			t.Errorf("the script's output names no checksum of %s:\n%s", filepath.Base(f), out)
		}
	}

	t.Run("tables", func(t *testing.T) {
		raw, err := exec.Command("msiinfo", "tables", msi).Output()
		if err != nil {
			t.Fatalf("msiinfo tables: %v", err)
		}
		tables := strings.Fields(string(raw))
		for _, want := range []string{"ServiceInstall", "ServiceControl", "Property", "Upgrade", "LaunchCondition", "CustomAction", "CreateFolder", "File", "Registry"} {
			if !slices.Contains(tables, want) {
				t.Errorf("msiinfo tables lists no %s: %v", want, tables)
			}
		}
	})

	t.Run("ServiceInstall", func(t *testing.T) {
		rows := msiTable(t, msi, "ServiceInstall")
		if len(rows) != 1 {
			t.Fatalf("ServiceInstall has %d rows, want 1: %q", len(rows), rows)
		}
		// ServiceInstall Name DisplayName ServiceType StartType ErrorControl LoadOrderGroup
		// Dependencies StartName Password Arguments Component_ Description
		r := rows[0]
		if len(r) < 12 {
			t.Fatalf("ServiceInstall row has %d columns: %q", len(r), r)
		}
		for _, c := range []struct{ col, got, want string }{
			{"Name", r[1], "sonevakt-agent"},
			{"DisplayName", r[2], "Sonevakt agent"},
			{"ServiceType (own process)", r[3], "16"},
			{"StartType (auto)", r[4], "2"},
			{"ErrorControl (normal)", r[5], "1"},
			{"StartName (empty: LocalSystem)", r[8], ""},
			{"Password", r[9], ""},
			{"Arguments", r[10], `run --data "[CommonAppDataFolder]Sonevakt\agent" --collector "[COLLECTOR]" --token "[TOKEN]"`},
			{"Component_", r[11], "AgentExe"},
		} {
			if c.got != c.want {
				t.Errorf("ServiceInstall %s = %q, want %q", c.col, c.got, c.want)
			}
		}
	})

	t.Run("ServiceControl", func(t *testing.T) {
		rows := msiTable(t, msi, "ServiceControl")
		if len(rows) != 1 {
			t.Fatalf("ServiceControl has %d rows, want 1: %q", len(rows), rows)
		}
		// ServiceControl Name Event Arguments Wait Component_
		r := rows[0]
		if r[1] != "sonevakt-agent" {
			t.Errorf("ServiceControl names %q, want sonevakt-agent", r[1])
		}
		ev, err := strconv.Atoi(r[2])
		if err != nil {
			t.Fatalf("ServiceControl Event %q: %v", r[2], err)
		}
		const (
			startInstall    = 0x001
			stopInstall     = 0x002
			stopUninstall   = 0x020
			deleteUninstall = 0x080
			startUninstall  = 0x100
			deleteInstall   = 0x008
		)
		for _, e := range []struct {
			bit  int
			name string
			want bool
		}{
			{startInstall, "start on install", true},
			{stopInstall, "stop on install (upgrade, repair)", true},
			{stopUninstall, "stop on uninstall", true},
			{deleteUninstall, "remove on uninstall", true},
			{startUninstall, "start on uninstall", false},
			{deleteInstall, "remove on install", false},
		} {
			if (ev&e.bit != 0) != e.want {
				t.Errorf("ServiceControl Event %#x: %s is %v, want %v", ev, e.name, !e.want, e.want)
			}
		}
		if r[4] != "1" {
			t.Errorf("ServiceControl Wait = %q, want 1", r[4])
		}
	})

	t.Run("Property", func(t *testing.T) {
		props := byKey(msiTable(t, msi, "Property"))
		get := func(k string) string {
			if r, ok := props[k]; ok && len(r) > 1 {
				return r[1]
			}
			return ""
		}
		for k, want := range map[string]string{
			"UpgradeCode":    upgradeCode,
			"ProductVersion": msiVersion,
			"Manufacturer":   "Sonevakt",
			"ProductName":    "Sonevakt agent",
			"ALLUSERS":       "1", // per machine
		} {
			if got := get(k); got != want {
				t.Errorf("Property %s = %q, want %q", k, got, want)
			}
		}
		if !slices.Contains(strings.Split(get("MsiHiddenProperties"), ";"), "TOKEN") {
			t.Errorf("MsiHiddenProperties = %q: TOKEN would show in the installer's log", get("MsiHiddenProperties"))
		}
		secure := strings.Split(get("SecureCustomProperties"), ";")
		for _, p := range []string{"COLLECTOR", "TOKEN", "ENROLL_LATER", "WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"} {
			if !slices.Contains(secure, p) {
				t.Errorf("SecureCustomProperties = %q lacks %s", get("SecureCustomProperties"), p)
			}
		}
		if _, ok := props["TOKEN"]; ok {
			t.Errorf("the MSI carries a default TOKEN: %q", props["TOKEN"])
		}
	})

	t.Run("Upgrade", func(t *testing.T) {
		rows := msiTable(t, msi, "Upgrade")
		// UpgradeCode VersionMin VersionMax Language Attributes Remove ActionProperty
		var upgrade, downgrade bool
		for _, r := range rows {
			if r[0] != upgradeCode {
				t.Errorf("Upgrade row for %s, want only %s", r[0], upgradeCode)
			}
			switch r[6] {
			case "WIX_UPGRADE_DETECTED":
				upgrade = r[1] == "" && r[2] == msiVersion
				// 0x200: the maximum is inclusive, so a rebuild of the same version (new
				// ProductCode) replaces the installed one rather than installing beside it.
				if a, _ := strconv.Atoi(r[4]); a&0x200 == 0 {
					t.Errorf("upgrade row's VersionMax %s is exclusive: attributes %s", r[2], r[4])
				}
			case "WIX_DOWNGRADE_DETECTED":
				downgrade = r[1] == msiVersion && r[2] == ""
				if a, _ := strconv.Atoi(r[4]); a&2 == 0 {
					t.Errorf("downgrade row is not detect-only: attributes %s", r[4])
				}
			}
		}
		if !upgrade || !downgrade {
			t.Errorf("Upgrade table lacks the older-version (%v) or newer-version (%v) row: %q", upgrade, downgrade, rows)
		}
		conds := byKey(msiTable(t, msi, "LaunchCondition"))
		if _, ok := conds["NOT WIX_DOWNGRADE_DETECTED"]; !ok {
			t.Errorf("no launch condition refuses a downgrade: %q", conds)
		}
		if _, ok := conds[`Installed OR WIX_UPGRADE_DETECTED OR ENROLL_LATER = "1" OR (COLLECTOR AND TOKEN)`]; !ok {
			t.Errorf("no launch condition asks a first install for COLLECTOR and TOKEN: %q", conds)
		}
	})

	t.Run("sequence", func(t *testing.T) {
		seq := map[string]int{}
		for _, r := range msiTable(t, msi, "InstallExecuteSequence") {
			n, err := strconv.Atoi(r[2])
			if err != nil {
				t.Fatalf("InstallExecuteSequence %q: %v", r, err)
			}
			seq[r[0]] = n
		}
		before := func(a, b string) {
			if seq[a] == 0 || seq[b] == 0 || seq[a] >= seq[b] {
				t.Errorf("InstallExecuteSequence: %s (%d) must run before %s (%d)", a, seq[a], b, seq[b])
			}
		}
		before("InstallValidate", "RemoveExistingProducts")
		before("RemoveExistingProducts", "InstallInitialize")
		before("CreateFolders", "LockDataDir")
		before("LockDataDir", "StartServices")
		before("InstallServices", "SetServiceRecovery")
		before("SetServiceRecovery", "StartServices")
		before("SetServiceRecoveryFlag", "StartServices")
		before("InstallServices", "SetServiceDelayedStart")
		before("SetServiceDelayedStart", "StartServices")
		before("SetScPath", "InstallInitialize")
		before("SetIcaclsPath", "InstallInitialize")

		cas := byKey(msiTable(t, msi, "CustomAction"))
		for _, ca := range []string{"LockDataDir", "SetServiceRecovery", "SetServiceRecoveryFlag", "SetServiceDelayedStart"} {
			r, ok := cas[ca]
			if !ok {
				t.Errorf("no custom action %s", ca)
				continue
			}
			typ, _ := strconv.Atoi(r[1])
			// 50: run the exe a property names; 0x400 deferred; 0x800 not impersonated
			// (LocalSystem); 0x40 ignore the exit code.
			if typ&0x3f != 50 || typ&0x400 == 0 || typ&0x800 == 0 || typ&0x40 == 0 {
				t.Errorf("custom action %s has type %d, want 50|deferred|no-impersonate|ignore-exit (3186)", ca, typ)
			}
		}
		for ca, want := range map[string]string{
			"SetIcaclsPath":          "[System64Folder]icacls.exe",
			"SetScPath":              "[System64Folder]sc.exe",
			"LockDataDir":            `"[AGENTDATADIR]." /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F`,
			"SetServiceRecovery":     "failure sonevakt-agent reset= 86400 actions= restart/5000/restart/10000/restart/60000",
			"SetServiceRecoveryFlag": "failureflag sonevakt-agent 1",
			"SetServiceDelayedStart": "config sonevakt-agent start= delayed-auto",
		} {
			if r := cas[ca]; r == nil || r[3] != want {
				t.Errorf("custom action %s = %q, want target %q", ca, r, want)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		files := msiTable(t, msi, "File")
		if len(files) != 1 || files[0][2] != "sonevakt-agent.exe" {
			t.Fatalf("File table %q, want only sonevakt-agent.exe", files)
		}
		dirs := byKey(msiTable(t, msi, "Directory"))
		if r := dirs["INSTALLDIR"]; r == nil || r[1] != "ProgramFiles64Folder" || r[2] != "Sonevakt" {
			t.Errorf("INSTALLDIR = %q, want ProgramFiles64Folder\\Sonevakt", r)
		}
		if r := dirs["AGENTDATADIR"]; r == nil || r[2] != "agent" || dirs[r[1]] == nil || dirs[r[1]][1] != "CommonAppDataFolder" {
			t.Errorf("AGENTDATADIR = %q, want CommonAppDataFolder\\Sonevakt\\agent", r)
		}
		// The exe in the cabinet is the signed one.
		x := t.TempDir()
		if out, err := exec.Command("msiextract", "-C", x, msi).CombinedOutput(); err != nil {
			t.Fatalf("msiextract: %v\n%s", err, out)
		}
		var packed []byte
		filepath.WalkDir(x, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "sonevakt-agent.exe" {
				packed, _ = os.ReadFile(p)
			}
			return nil
		})
		signed, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(packed, signed) {
			t.Errorf("the MSI's sonevakt-agent.exe (%d bytes) is not the signed %s (%d bytes)", len(packed), filepath.Base(exe), len(signed))
		}
		info, err := exec.Command("msiinfo", "suminfo", msi).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(info), "Template: x64;1033") {
			t.Errorf("summary information is not for x64:\n%s", info)
		}
	})

	t.Run("Event Log source", func(t *testing.T) {
		const key = `SYSTEM\CurrentControlSet\Services\EventLog\Application\sonevakt-agent`
		got := map[string]string{}
		// Registry Root Key Name Value Component_
		for _, r := range msiTable(t, msi, "Registry") {
			if r[1] == "2" && r[2] == key { // 2: HKLM
				got[r[3]] = r[4]
			}
		}
		for name, want := range map[string]string{
			"EventMessageFile": `[System64Folder]EventCreate.exe`,
			"TypesSupported":   "#7", // error, warning, information
			"CustomSource":     "#1",
		} {
			if got[name] != want {
				t.Errorf(`HKLM\%s %s = %q, want %q`, key, name, got[name], want)
			}
		}
	})

	t.Run("signatures", func(t *testing.T) {
		for _, f := range []string{exe, msi} {
			if out, err := verify(cert, f); err != nil {
				t.Errorf("osslsigncode verify %s: %v\n%s", filepath.Base(f), err, out)
			}
		}
		// A byte changed in the signed exe breaks its signature.
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		bad := filepath.Join(t.TempDir(), "tampered.exe")
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := verify(cert, bad); err == nil {
			t.Errorf("osslsigncode verify passed a tampered exe:\n%s", out)
		}
		// Another certificate does not verify them.
		other := filepath.Join(t.TempDir(), "other.pem")
		if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
			"-nodes", "-keyout", other+".key", "-out", other, "-days", "1", "-subj", "/CN=other").CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v\n%s", err, out)
		}
		if out, err := verify(other, exe); err == nil {
			t.Errorf("osslsigncode verify passed the exe against an unrelated CA:\n%s", out)
		}
	})

	// The operator's own certificate: a password-protected PKCS#12, as a CA would issue it.
	t.Run("pkcs12", func(t *testing.T) {
		dir := t.TempDir()
		key, crt, p12 := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "sign.p12")
		for _, args := range [][]string{
			{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
				"-subj", "/O=Sonevakt/CN=Sonevakt test PKCS12", "-addext", "extendedKeyUsage=codeSigning"},
			{"pkcs12", "-export", "-inkey", key, "-in", crt, "-out", p12, "-passout", "pass:s3cret pass"},
		} {
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %s: %v\n%s", args[0], err, out)
			}
		}
		unsigned := filepath.Join(dir, "unsigned.exe")
		if out, err := exec.Command("osslsigncode", "remove-signature", "-in", exe, "-out", unsigned).CombinedOutput(); err != nil {
			t.Fatalf("osslsigncode remove-signature: %v\n%s", err, out)
		}
		dist2 := filepath.Join(dir, "dist")
		out := packageWindows(t, dist2, "SONEVAKT_AGENT_EXE="+unsigned,
			"SONEVAKT_SIGN_CERT="+p12, "SONEVAKT_SIGN_PASS=s3cret pass")
		if strings.Contains(out, "THROWAWAY") || strings.Contains(out, "s3cret") {
			t.Errorf("script output with a real certificate:\n%s", out)
		}
		for _, f := range []string{"sonevakt-agent-" + msiVersion + "-windows-amd64.exe", "sonevakt-agent-" + msiVersion + "-x64.msi"} {
			if out, err := verify(crt, filepath.Join(dist2, f)); err != nil {
				t.Errorf("osslsigncode verify %s with the PKCS#12 certificate: %v\n%s", f, err, out)
			}
			if out, err := verify(cert, filepath.Join(dist2, f)); err == nil {
				t.Errorf("%s verifies against the throwaway certificate too:\n%s", f, out)
			}
		}
	})

	t.Run("bad version", func(t *testing.T) {
		for _, v := range []string{"", "1.2", "v1.2.3", "1.2.3-rc1", "256.0.0", "1.2.65536"} {
			cmd := exec.Command("../scripts/package-windows.sh")
			cmd.Env = append(os.Environ(), "VERSION="+v, "DIST="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "VERSION") {
				t.Errorf("VERSION=%q: err %v, output %q; want a failure naming VERSION", v, err, out)
			}
		}
	})
}
