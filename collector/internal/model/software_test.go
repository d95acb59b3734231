package model

import (
	"errors"
	"strings"
	"testing"
)

func TestSoftwareGlob(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"firefox", []string{"firefox", "FireFox"}, []string{"firefox-esr", "mozilla firefox", ""}},
		{"firefox*", []string{"firefox", "Firefox ESR", "firefox-l10n-nb"}, []string{"mozilla firefox", "firefo"}},
		{"*miner*", []string{"miner", "xmrig-miner-cuda", "MINER"}, []string{"mine", "minr"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbbc", "acbc"}, []string{"ab", "acb", "abcd", "xabc"}},
		{"a*a", []string{"aa", "aba", "aaa"}, []string{"a", "ab"}},
		{"python3.??", []string{"python3.11", "Python3.12"}, []string{"python3.1", "python3.111"}},
		{"7-zip ?? (x64)", []string{"7-Zip 23 (x64)", "7-zip 2ø (x64)"}, []string{"7-zip 2 (x64)", "portable 7-zip 23 (x64)"}},
		{"*?x", []string{"ax", "øx", "abx"}, []string{"x"}},
		{"?*", []string{"a", "ab"}, []string{""}},
		{"*", []string{"", "anything"}, nil},
		{"", []string{""}, []string{"a"}},
		{"æøå*", []string{"ÆØÅ-verktøy"}, []string{"aoa"}},
	}
	for _, tt := range tests {
		g, err := ParseSoftwareGlob(tt.pattern)
		if err != nil {
			t.Fatalf("ParseSoftwareGlob(%q): %v", tt.pattern, err)
		}
		for _, s := range tt.yes {
			if !g.Match(s) {
				t.Errorf("%q.Match(%q) = false, want true", tt.pattern, s)
			}
		}
		for _, s := range tt.no {
			if g.Match(s) {
				t.Errorf("%q.Match(%q) = true, want false", tt.pattern, s)
			}
		}
	}
	for _, bad := range []string{"firefox[0-9]", "a{b,c}", `a\*`, "a\x01", "\xff"} {
		if _, err := ParseSoftwareGlob(bad); err == nil {
			t.Errorf("ParseSoftwareGlob(%q) accepted", bad)
		}
	}
}

func TestCheckSoftwareEntry(t *testing.T) {
	ok := SoftwareEntry{Verdict: SoftwareDenied, NamePattern: "x*", Source: "rpm"}
	if err := CheckSoftwareEntry(ok); err != nil {
		t.Errorf("CheckSoftwareEntry(%+v) = %v", ok, err)
	}
	for _, bad := range []SoftwareEntry{
		{Verdict: "maybe", NamePattern: "x"},
		{Verdict: SoftwareApproved},
		{Verdict: SoftwareApproved, NamePattern: "x", Source: "snap"},
		{Verdict: SoftwareApproved, NamePattern: "x[1]"},
		{Verdict: SoftwareApproved, NamePattern: "x", Publisher: "{a}"},
		{Verdict: SoftwareApproved, NamePattern: "x", Reason: "\xff"},
	} {
		if err := CheckSoftwareEntry(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckSoftwareEntry(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	e := SoftwareEntry{Verdict: SoftwareApproved, NamePattern: "Firefox*", Publisher: "Mozilla", Source: "windows"}
	if got := e.Key(); got != "approved:firefox*:mozilla:windows" || !strings.HasPrefix(got, SoftwareEntryID("approved", "FIREFOX*", "", "")[:17]) {
		t.Errorf("Key() = %q", got)
	}
}
