package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEnrollSettingsFromEnv(t *testing.T) {
	t.Setenv("SONEVAKT_COLLECTOR", "")
	t.Setenv("SONEVAKT_TOKEN", "")
	t.Setenv("COLLECTOR", "plain:7443")
	t.Setenv("TOKEN", "plain-token")

	var e enrollSettings
	e.fromEnv(false)
	if e != (enrollSettings{}) {
		t.Errorf("from a terminal the plain COLLECTOR/TOKEN were read: %+v", e)
	}
	e.fromEnv(true)
	if e != (enrollSettings{"plain:7443", "plain-token"}) {
		t.Errorf("under the service manager: %+v", e)
	}

	t.Setenv("SONEVAKT_COLLECTOR", "sv:7443")
	t.Setenv("SONEVAKT_TOKEN", "sv-token")
	e = enrollSettings{}
	e.fromEnv(true)
	if e != (enrollSettings{"sv:7443", "sv-token"}) {
		t.Errorf("SONEVAKT_* do not win: %+v", e)
	}
	e = enrollSettings{collector: "flag:1", token: "flag-token"}
	e.fromEnv(true)
	if e != (enrollSettings{"flag:1", "flag-token"}) {
		t.Errorf("flags do not win: %+v", e)
	}
}

func TestServiceCmdUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{nil, {"bogus"}, {"--data", "x"}, {"status", "extra"}} {
		if err := run(t.Context(), append([]string{"service"}, args...), &out, &errb); !errors.Is(err, errUsage) {
			t.Errorf("service %q: %v; want a usage error", args, err)
		}
	}
	if err := run(t.Context(), []string{"service", "--help"}, &out, &errb); err != nil || !strings.Contains(out.String(), "install|uninstall|start|stop|restart|status") {
		t.Errorf("service --help: %v, %q", err, out.String())
	}
}
