package inventory

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

type vcase struct {
	a, b string
	want int
}

// debianCases follow Debian Policy 5.6.12 and dpkg's own tests.
var debianCases = []vcase{
	{"1.0", "1.0", 0},
	{"1.0", "0:1.0", 0},           // epoch 0 is the default
	{"1.0", "1.0-0", 0},           // no revision compares as revision 0
	{"000001.0", "1.0", 0},        // leading zeros
	{"1.0", "1.1", -1},            // numbers
	{"1.2.3", "1.2.10", -1},       // numerically, not as text
	{"2.30", "2.4", 1},            //
	{"1.0.0", "1.0", 1},           // more parts
	{"1:1.0", "2.0", 1},           // the epoch wins
	{"10:0", "9:99", 1},           // epochs compare as numbers
	{"1:0.1", "1:0.1-1", -1},      //
	{"1.0~rc1", "1.0", -1},        // a tilde sorts before the end
	{"1.0~~", "1.0~~a", -1},       // policy's example: ~~ < ~~a < ~ < "" < a
	{"1.0~~a", "1.0~", -1},        //
	{"1.0~", "1.0", -1},           //
	{"1.0", "1.0a", -1},           //
	{"1.0a", "1.0+", -1},          // letters before other characters
	{"1.0+", "1.0.", -1},          // then by character code
	{"1.0-1", "1.0-2", -1},        // revisions
	{"1.0-1", "1.0-1+b1", -1},     // binNMU
	{"1.0-1+b1", "1.0-1.1", -1},   // + before .
	{"1.0-1", "1.0-1ubuntu1", -1}, //
	{"1.0-1ubuntu1", "1.0-1ubuntu1.1", -1},
	{"3.0.11-1~deb12u2", "3.0.11-1", -1}, // security update of a stable release
	{"3.0.11-1~deb12u1", "3.0.11-1~deb12u2", -1},
	{"3.0.11~rc1-1", "3.0.11-1", -1},
	{"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
	{"115.9.1esr-1~deb12u1", "115.10.0esr-1~deb12u1", -1},
	{"1:9.10.3.dfsg.P4-12.3+deb9u4", "1:9.10.3.dfsg.P4-12.3+deb9u5", -1},
	{"1:2.39.2-1.1", "2.40", 1},
	{"2024a-0+deb12u1", "2024b-0+deb12u1", -1},
	{"1.2-3-4", "1.2-3-5", -1}, // hyphens in upstream: the revision is after the last
	{"1.2-3-4", "1.2-4", 1},    // upstream 1.2-3 against 1.2
	{"0.0-0", "0", 1},          // more parts, even zeros, sort higher
	{"0:0-0", "0", 0},
	{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
	{"1.0", "1.0 ", 0}, // surrounding space ignored
}

func TestCompareDebian(t *testing.T) {
	for _, tc := range debianCases {
		if got := CompareDebian(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareDebian(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareDebian(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareDebian(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// rpmvercmpCases are rpm's own tests (tests/rpmvercmp.at).
var rpmvercmpCases = []vcase{
	{"1.0", "1.0", 0}, {"1.0", "2.0", -1}, {"2.0", "1.0", 1},
	{"2.0.1", "2.0.1", 0}, {"2.0", "2.0.1", -1}, {"2.0.1", "2.0", 1},
	{"2.0.1a", "2.0.1a", 0}, {"2.0.1a", "2.0.1", 1}, {"2.0.1", "2.0.1a", -1},
	{"5.5p1", "5.5p1", 0}, {"5.5p1", "5.5p2", -1}, {"5.5p2", "5.5p1", 1},
	{"5.5p10", "5.5p10", 0}, {"5.5p1", "5.5p10", -1}, {"5.5p10", "5.5p1", 1},
	{"10xyz", "10.1xyz", -1}, {"10.1xyz", "10xyz", 1},
	{"xyz10", "xyz10", 0}, {"xyz10", "xyz10.1", -1}, {"xyz10.1", "xyz10", 1},
	{"xyz.4", "xyz.4", 0}, {"xyz.4", "8", -1}, {"8", "xyz.4", 1}, {"xyz.4", "2", -1}, {"2", "xyz.4", 1},
	{"5.5p2", "5.6p1", -1}, {"5.6p1", "5.5p2", 1},
	{"5.6p1", "6.5p1", -1}, {"6.5p1", "5.6p1", 1},
	{"6.0.rc1", "6.0", 1}, {"6.0", "6.0.rc1", -1},
	{"10b2", "10a1", 1}, {"10a2", "10b2", -1},
	{"1.0aa", "1.0aa", 0}, {"1.0a", "1.0aa", -1}, {"1.0aa", "1.0a", 1},
	{"10.0001", "10.0001", 0}, {"10.0001", "10.1", 0}, {"10.1", "10.0001", 0},
	{"10.0001", "10.0039", -1}, {"10.0039", "10.0001", 1},
	{"4.999.9", "5.0", -1}, {"5.0", "4.999.9", 1},
	{"20101121", "20101121", 0}, {"20101121", "20101122", -1}, {"20101122", "20101121", 1},
	{"2_0", "2_0", 0}, {"2.0", "2_0", 0}, {"2_0", "2.0", 0},
	{"a", "a", 0}, {"a+", "a+", 0}, {"a+", "a_", 0}, {"a_", "a+", 0},
	{"+a", "+a", 0}, {"+a", "_a", 0}, {"_a", "+a", 0},
	{"+_", "+_", 0}, {"_+", "+_", 0}, {"_+", "_", 0}, {"+", "_", 0}, {"_", "+", 0},
	{"1.0~rc1", "1.0~rc1", 0}, {"1.0~rc1", "1.0", -1}, {"1.0", "1.0~rc1", 1},
	{"1.0~rc1", "1.0~rc2", -1}, {"1.0~rc2", "1.0~rc1", 1},
	{"1.0~rc1~git123", "1.0~rc1~git123", 0}, {"1.0~rc1~git123", "1.0~rc1", -1}, {"1.0~rc1", "1.0~rc1~git123", 1},
	{"1.0^", "1.0^", 0}, {"1.0^", "1.0", 1}, {"1.0", "1.0^", -1},
	{"1.0^git1", "1.0^git1", 0}, {"1.0^git1", "1.0", 1}, {"1.0", "1.0^git1", -1},
	{"1.0^git1", "1.0^git2", -1}, {"1.0^git2", "1.0^git1", 1},
	{"1.0^git1", "1.01", -1}, {"1.01", "1.0^git1", 1},
	{"1.0^20160101", "1.0^20160101", 0}, {"1.0^20160101", "1.0.1", -1}, {"1.0.1", "1.0^20160101", 1},
	{"1.0^20160101^git1", "1.0^20160101^git1", 0},
	{"1.0^20160102", "1.0^20160101^git1", 1}, {"1.0^20160101^git1", "1.0^20160102", -1},
	{"1.0~rc1^git1", "1.0~rc1^git1", 0}, {"1.0~rc1^git1", "1.0~rc1", 1}, {"1.0~rc1", "1.0~rc1^git1", -1},
	{"1.0^git1~pre", "1.0^git1~pre", 0}, {"1.0^git1", "1.0^git1~pre", 1}, {"1.0^git1~pre", "1.0^git1", -1},
	{"1b.fc17", "1b.fc17", 0}, {"1b.fc17", "1.fc17", -1}, {"1.fc17", "1b.fc17", 1},
	{"1g.fc17", "1g.fc17", 0}, {"1g.fc17", "1.fc17", 1}, {"1.fc17", "1g.fc17", -1},
}

func TestRPMVerCmp(t *testing.T) {
	for _, tc := range rpmvercmpCases {
		if got := RPMVerCmp(tc.a, tc.b); got != tc.want {
			t.Errorf("RPMVerCmp(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// rpmCases are whole [epoch:]version[-release] strings as rpm -q prints them.
var rpmCases = []vcase{
	{"1:3.0.7-25.el9_3", "1:3.0.7-25.el9_3", 0},
	{"1:3.0.7-25.el9_3", "3.0.8-1.el9", 1}, // the epoch wins
	{"0:3.0.7-1", "3.0.7-1", 0},
	{"5.14.0-362.8.1.el9_3", "5.14.0-362.13.1.el9_3", -1},
	{"5.14.0-362.8.1.el9_3", "5.14.0-70.13.1.el9_0", 1},
	{"5.14.0", "5.14.0-1", -1}, // no release sorts below any release
	{"5.14.0-", "5.14.0", 1},
	{"2.0-1", "10.0-1", -1},
	{"3.6.0^git1-1.fc38", "3.6.1-1.fc38", -1},
	{"3.6.0^git1-1.fc38", "3.6.0-1.fc38", 1},
	{"1.0~rc1-1", "1.0-1", -1},
	{"2:8.2.2637-20.el9_1", "9.0.1-1", 1},
	{"4.18.0-2.el8", "4.18.0-10.el8", -1},
	{"1.2.3-1.fc35", "1.2.3-1.fc36", -1},
	{"7.76.1-26.el9_3.2", "7.76.1-26.el9_3.3", -1},
	{"10:1.0-1", "9:2.0-1", 1},
}

func TestCompareRPM(t *testing.T) {
	for _, tc := range rpmCases {
		if got := CompareRPM(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareRPM(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareRPM(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareRPM(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

var dottedCases = []vcase{
	{"10.0.19041.1", "10.0.19041.1", 0},
	{"123.0.2420.97", "123.0.2420.100", -1}, // numbers, not text
	{"23.01", "23.1", 0},                    // leading zeros
	{"1.2", "1.2.0", 0},                     // missing parts are 0
	{"1.2", "1.2.0.1", -1},
	{"16.0.17328.20162", "16.0.17231.20236", 1},
	{"3.1.2", "3.1.10", -1},
	{"2.4.58 beta", "2.4.58", 1}, // text after a number sorts after none
	{"1.0a", "1.0b", -1},
	{"1.0A", "1.0a", 0}, // case ignored
	{"", "0", 0},
	{"", "0.1", -1},
	{"12.0.40660", "14.38.33130", -1},
}

func TestCompareDotted(t *testing.T) {
	for _, tc := range dottedCases {
		if got := CompareDotted(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareDotted(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareDotted(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareDotted(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestCompareVersionsBySource(t *testing.T) {
	for _, tc := range []struct {
		source, a, b string
		want         int
	}{
		{SourceDpkg, "1.0~rc1", "1.0", -1},
		{SourceRPM, "1.0~rc1", "1.0", -1},
		{SourceWindows, "1.0~rc1", "1.0", 1}, // a tilde is text to Windows
		{SourceDpkg, "1.0-1", "1.0", 1},
		{SourceRPM, "1.0^1", "1.0", 1},
		{SourceDpkg, "1.0^1", "1.0", 1},
		{SourceDpkg, "1.0.a", "1.0a", 1},
		{SourceRPM, "1.0.a", "1.0a", 0}, // separators only separate in rpm
		{"", "10.2", "10.10", -1},       // unknown sources: dotted numbers
		{"snap", "2.61.3", "2.61.10", -1},
	} {
		if got := CompareVersions(tc.source, tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q, %q) = %d, want %d", tc.source, tc.a, tc.b, got, tc.want)
		}
	}
	p := wire.Package{Name: "openssl", Version: "3.0.11~rc1-1", Source: SourceDpkg}
	if !Below(p, "3.0.11") || Below(p, "3.0.10") || Below(p, p.Version) {
		t.Errorf("Below(%s) against 3.0.11, 3.0.10, itself: want true, false, false", p.Version)
	}
}

// realVersions are versions as Debian, Fedora and RHEL ship them, used to
// check our orderings against the real tools where they are installed.
var realVersions = []string{
	"1:2.39.2-1.1", "2.39.2-1", "2.39.2", "2.39.2~rc0-1", "1:2.39.2-1.1+deb12u1", "1:2.39.2-1.1~bpo11+1",
	"3.0.11-1~deb12u2", "3.0.11-1~deb12u1", "3.0.11-1", "3.0.11~rc1-1", "3.0.13-1~deb12u1", "3.0.2-0ubuntu1.15",
	"2.36-9+deb12u4", "2.36-9+deb12u10", "2.36-9", "2.35-0ubuntu3.6",
	"115.9.1esr-1~deb12u1", "115.10.0esr-1~deb12u1", "124.0.1", "124.0.1+build1-0ubuntu0.22.04.1",
	"5.14.0-362.8.1.el9_3", "5.14.0-362.13.1.el9_3", "5.14.0-70.13.1.el9_0", "5.14.0",
	"1:3.0.7-25.el9_3", "1:3.0.7-27.el9", "3.6.0^git1-1.fc38", "3.6.0-1.fc38", "3.6.1-1.fc38", "3.6.0^git2-1.fc38",
	"2024a-0+deb12u1", "2024a-0ubuntu0.22.04", "2023c-5", "1.0+dfsg-1", "1.0-1", "1.0a-1", "1.0~beta2-1", "1.0~~-1",
	"0.9.8zh-1", "0.9.8zg-1", "10.0.0", "9.99.99",
}

func TestCompareDebianAgainstDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	rel := func(a, b string) int {
		t.Helper()
		for _, op := range []struct {
			name string
			want int
		}{{"lt", -1}, {"eq", 0}, {"gt", 1}} {
			err := exec.Command(dpkg, "--compare-versions", a, op.name, b).Run()
			if err == nil {
				return op.want
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("dpkg --compare-versions: %v", err)
			}
		}
		t.Fatalf("dpkg --compare-versions %q %q: no relation", a, b)
		return 0
	}
	for _, tc := range debianCases {
		if strings.TrimSpace(tc.a) != tc.a || strings.TrimSpace(tc.b) != tc.b {
			continue
		}
		if got := rel(tc.a, tc.b); got != tc.want {
			t.Errorf("dpkg says %q vs %q is %d; our table says %d", tc.a, tc.b, got, tc.want)
		}
	}
	// Sorted by us, each neighbour pair as dpkg sees it: a total order
	// agreeing on neighbours agrees everywhere.
	vs := slices.Clone(realVersions)
	slices.SortStableFunc(vs, CompareDebian)
	for i := 1; i < len(vs); i++ {
		want := CompareDebian(vs[i-1], vs[i])
		if got := rel(vs[i-1], vs[i]); got != want {
			t.Errorf("CompareDebian(%q, %q) = %d, dpkg says %d", vs[i-1], vs[i], want, got)
		}
	}
}

func TestCompareRPMAgainstRPM(t *testing.T) {
	rpm, err := exec.LookPath("rpm")
	if err != nil {
		t.Skip("rpm not installed")
	}
	// One rpm run compares every pair with rpm.vercmp (EVR strings).
	var pairs []vcase
	for _, a := range realVersions {
		for _, b := range realVersions {
			pairs = append(pairs, vcase{a, b, CompareRPM(a, b)})
		}
	}
	for _, tc := range rpmCases {
		pairs = append(pairs, tc)
	}
	var lua strings.Builder
	lua.WriteString("%{lua: ")
	for _, p := range pairs {
		fmt.Fprintf(&lua, "print(rpm.vercmp(%q, %q) .. '\\n') ", p.a, p.b)
	}
	lua.WriteString("}")
	out, err := exec.Command(rpm, "--eval", lua.String()).Output()
	if err != nil {
		t.Skipf("rpm --eval with lua: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(pairs) {
		t.Fatalf("rpm printed %d results for %d pairs", len(lines), len(pairs))
	}
	for i, p := range pairs {
		got, err := strconv.Atoi(lines[i])
		if err != nil {
			t.Fatalf("rpm result %q: %v", lines[i], err)
		}
		if got != p.want {
			t.Errorf("rpm.vercmp(%q, %q) = %d, CompareRPM says %d", p.a, p.b, got, p.want)
		}
	}
	// rpmvercmp on its own: every rpmvercmp.at case, through rpm again.
	lua.Reset()
	lua.WriteString("%{lua: ")
	for _, p := range rpmvercmpCases {
		fmt.Fprintf(&lua, "print(rpm.vercmp(%q, %q) .. '\\n') ", p.a, p.b)
	}
	lua.WriteString("}")
	out, err = exec.Command(rpm, "--eval", lua.String()).Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	lines = strings.Fields(string(out))
	for i, p := range rpmvercmpCases {
		if i < len(lines) && lines[i] != strconv.Itoa(p.want) {
			t.Errorf("rpm.vercmp(%q, %q) = %s, the table says %d", p.a, p.b, lines[i], p.want)
		}
	}
}
