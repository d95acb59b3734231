package web

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// hostileName is a hostname an agent might report to break a picture.
const hostileName = "ond\"<pc>&\\x\nlinje2"

// exportEnv is mapEnv with the test zones, the sample traffic, and an agent
// with a hostile hostname; the user "rut" is an auditor.
func exportEnv(t *testing.T) (*testEnv, *http.Cookie) {
	t.Helper()
	e := mapEnv(t)
	e.zones.set(loadTestZones(t))
	e.sampleTraffic()
	e.store.addHost(model.HostSummary{Agent: model.Agent{ID: "ond-agent", Hostname: hostileName, LastSeen: e.clock.now().Add(-time.Minute)}})
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	return e, e.login(t, "rut", "hemmelig-passord")
}

func TestConfigMapSVG(t *testing.T) {
	e, sc := exportEnv(t)
	rec := e.get("/configmap.svg", sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /configmap.svg = %d\n%s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("Content-Type = %q", ct)
	}
	want := fmt.Sprintf(`attachment; filename="configmap-%s.svg"`, e.clock.now().Local().Format("20060102"))
	if cd := rec.Header().Get("Content-Disposition"); cd != want {
		t.Errorf("Content-Disposition = %q, want %q", cd, want)
	}
	svg := rec.Body.String()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
	}
	for _, w := range []string{"<title", "<desc", "Konfigurasjonskart", "ond&#34;&lt;pc&gt;&amp;\\x linje2", "I samsvar",
		"Uten sone", "helse (sensitive), del av intern", "K-0002"} {
		if !strings.Contains(svg, w) {
			t.Errorf("SVG lacks %q", w)
		}
	}
	if strings.Contains(svg, "<pc>") || strings.Contains(svg, "<script") {
		t.Error("SVG carries raw markup")
	}
	// The filters apply.
	svg = e.get("/configmap.svg?state=silent", sc).Body.String()
	if !strings.Contains(svg, "K-0002") || strings.Contains(svg, "K-0001") {
		t.Error("state filter not applied to the SVG")
	}
}

func TestConfigMapDOT(t *testing.T) {
	e, sc := exportEnv(t)
	rec := e.get("/configmap.dot?lang=en", sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /configmap.dot = %d\n%s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/vnd.graphviz") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasSuffix(cd, `.dot"`) || !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	dot := rec.Body.String()
	for _, w := range []string{
		"digraph configmap {",
		`[label="ond\"<pc>&\\x\nlinje2\nUnregistered"`,
		`label="helse (sensitive), part of intern"`,
		// Traffic of the last seven days, judged by the firewall map.
		`label="allowed (flows: 1)"`,
		`label="not allowed (flows: 1)"`,
	} {
		if !strings.Contains(dot, w) {
			t.Errorf("DOT lacks %s\n%s", w, dot)
		}
	}
}

func TestConfigMapExportBadFilter(t *testing.T) {
	e, sc := exportEnv(t)
	for _, path := range []string{"/configmap.svg?state=green", "/configmap.dot?kind=cat", "/configmap?page=0", "/configmap?page=x", "/hosts?page=-1"} {
		rec := e.get(path, sc)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", path, rec.Code)
			continue
		}
		body := rec.Body.String()
		if !strings.Contains(body, "state må være en av") && !strings.Contains(body, "kind må være en av") && !strings.Contains(body, "page må være et helt tall") {
			t.Errorf("GET %s does not say what is wrong:\n%.2000s", path, body)
		}
	}
}
