package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustImport posts a register in CSV form and fails the test unless it was
// taken.
func (c *collector) mustImport(path, token, csv string) {
	c.t.Helper()
	if code, body := c.importCSV(path, token, csv); code != http.StatusOK {
		c.t.Fatalf("POST %s = %d: %s", path, code, body)
	}
}

// mailsAbout waits until the mailbox holds want mails about a deviation and
// returns their recipients and subjects, sorted; more than want fails.
func mailsAbout(t *testing.T, box *mailbox, id string, want int, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var got []string
		for _, m := range box.all() {
			if !strings.Contains(m, id) {
				continue
			}
			to, rest, _ := strings.Cut(m, "\n\n")
			subject := ""
			for _, line := range strings.Split(rest, "\r\n") {
				if s, ok := strings.CutPrefix(line, "Subject: "); ok {
					subject = s
				}
			}
			got = append(got, to+" "+subject)
		}
		slices.Sort(got)
		if len(got) > want {
			t.Fatalf("%d mails about %s, want %d: %q", len(got), id, want, got)
		}
		if len(got) == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails about %s within %v, want %d: %q", len(got), id, d, want, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRegistersRouteDeviations: with the organisation register naming the
// information security officer and the line manager of the health unit,
// a machine that enrolls without being in the asset register opens an
// unregistered-host deviation told to the officer alone (no unit is known
// for it); once registered to the health unit the condition clears on the
// deviation's timeline; a denied program in the software catalogue then
// opens one unapproved-software deviation routed to both, each mailed once
// in their own language.
func TestRegistersRouteDeviations(t *testing.T) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs a Debian machine (dpkg) for the software inventory")
		}
		t.Skip("needs a Debian machine (dpkg) for the software inventory")
	}
	dir := t.TempDir()
	box, addr, caFile, pwFile := startMailbox(t, dir)
	c := newCollector(t)
	conf := filepath.Join(dir, "collector.yaml")
	body := fmt.Sprintf(`data_dir: %s
notify:
  smtp: {addr: %s, from: sonevakt@kommune.example, username: sonevakt, password_file: %s, ca_file: %s}
  security_officer: {email: isa@kommune.example}
`, c.data, addr, pwFile, caFile)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = append(c.args, "--config", conf)
	c.start()
	drift := mustRun(t, "sonevakt-collector", "apitoken", "create", "--data", c.data, "--role", "drift", "--name", "drift")

	// The organisation: units first, then people, then the unit's manager.
	c.mustImport("/api/v1/org/units?mode=merge", drift, "id,name,parent,manager\nhelse,Helse og omsorg,,\n")
	c.mustImport("/api/v1/org/people?mode=merge", drift, "id,name,email,phone,unit,roles,username,lang\n"+
		"siri,Siri Sikker,siri@kommune.example,,,sikkerhet,siri,nb\n"+
		"hilde,Hilde Helse,hilde@kommune.example,,helse,leder,hilde,en\n")
	c.mustImport("/api/v1/org/units?mode=merge", drift, "id,name,parent,manager\nhelse,Helse og omsorg,,hilde\n")

	a := newAgent(t, c, "agent")
	agentConf := "log_level: debug\nsensors:\n  media: false\n  traffic: false\n  sockets: false\n"
	if err := os.WriteFile(a.conf, []byte(agentConf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start()

	unreg := c.waitDeviation("unregistered-host", "host:"+a.id, 30*time.Second)
	if !slices.Equal(unreg.Assignees, []string{"person:siri"}) {
		t.Errorf("unregistered-host assignees %v, want the security officer alone", unreg.Assignees)
	}
	if got := mailsAbout(t, box, unreg.ID, 1, 15*time.Second); !strings.HasPrefix(got[0], "siri@kommune.example [Sonevakt] Nytt avvik "+unreg.ID) {
		t.Errorf("mail about %s: %q, want one to the officer in Norwegian", unreg.ID, got)
	}

	// Register the machine by its MAC addresses, in the health unit.
	h := c.waitHost(a.id, 10*time.Second, "facts with a MAC address", func(h apiHost) bool {
		if h.Facts == nil {
			return false
		}
		return slices.ContainsFunc(h.Facts.Interfaces, func(i struct {
			Name string `json:"name"`
			MAC  string `json:"mac"`
		}) bool {
			return i.MAC != ""
		})
	})
	var macs []string
	for _, i := range h.Facts.Interfaces {
		if i.MAC != "" && !slices.Contains(macs, i.MAC) {
			macs = append(macs, i.MAC)
		}
	}
	c.mustImport("/api/v1/assets?mode=merge", drift, "asset_tag,type,serial,macs,hostname,owner_unit,responsible,operated_by,building,room,zone,status,note\n"+
		"NK-0001,pc,,"+strings.Join(macs, " ")+",,helse,Hilde Helse,kommunen,,,,active,\n")
	waitTimeline(t, c, unreg.ID, "cleared", 30*time.Second)

	// A program the catalogue denies, on the registered machine.
	c.mustImport("/api/v1/software/catalog?mode=merge", drift, "verdict,name,publisher,source,min_version,max_version,reason,owner_unit\n"+
		"denied,bash,,dpkg,,,Testregel: skall skal ikke finnes,\n")
	sw := c.waitDeviation("unapproved-software", "software:"+a.id+":dpkg:bash", 30*time.Second)
	for _, want := range []string{"person:siri", "person:hilde", "unit:helse:leder"} {
		if !slices.Contains(sw.Assignees, want) {
			t.Errorf("unapproved-software assignees %v lack %s", sw.Assignees, want)
		}
	}
	got := mailsAbout(t, box, sw.ID, 2, 15*time.Second)
	if !strings.HasPrefix(got[0], "hilde@kommune.example [Sonevakt] New deviation "+sw.ID) ||
		!strings.HasPrefix(got[1], "siri@kommune.example [Sonevakt] Nytt avvik "+sw.ID) {
		t.Errorf("mails about %s: %q, want one to the line manager in English and one to the officer in Norwegian", sw.ID, got)
	}
	// The condition stands: further evaluations add no second deviation.
	time.Sleep(2 * time.Second)
	devs, err := c.deviations("unapproved-software")
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Errorf("%d unapproved-software deviations, want 1: %+v", len(devs), devs)
	}
}

// waitTimeline polls a deviation until its timeline holds an entry of type.
func waitTimeline(t *testing.T, c *collector, id, typ string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var v struct {
			Timeline []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"timeline"`
		}
		if _, err := c.getJSON("/api/v1/deviations/"+id, &v); err != nil {
			t.Fatal(err)
		}
		for _, e := range v.Timeline {
			if e.Type == typ {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("deviation %s: no %q timeline entry within %v; timeline %+v", id, typ, d, v.Timeline)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
