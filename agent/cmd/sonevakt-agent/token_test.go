package main

import (
	"slices"
	"testing"
)

func TestWithoutToken(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{`C:\P\a.exe`, "run", "--data", `C:\D`, "--collector", "c:7443", "--token", "svt1.a.b.c"},
			[]string{`C:\P\a.exe`, "run", "--data", `C:\D`, "--collector", "c:7443"}},
		{[]string{"a.exe", "run", "--token=svt1.x", "--data", "d"}, []string{"a.exe", "run", "--data", "d"}},
		{[]string{"a.exe", "run", "-token", "t", "-token=u"}, []string{"a.exe", "run"}},
		{[]string{"a.exe", "run", "--token"}, []string{"a.exe", "run"}},
		{[]string{"a.exe", "run", "--data", "--token-dir"}, []string{"a.exe", "run", "--data", "--token-dir"}},
		{[]string{"a.exe", "run", "--data", "d"}, []string{"a.exe", "run", "--data", "d"}},
	} {
		if got := withoutToken(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("withoutToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
