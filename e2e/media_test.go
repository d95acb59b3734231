package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needRoot skips a test that needs root and the given tools, unless CI=true,
// where the project's own scripts install them and a skip would hide a gap.
func needRoot(t testing.TB, tools ...string) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if os.Geteuid() != 0 {
		fail("needs root for loop devices")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		fail("no loop devices: %v", err)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			fail("%s not installed (scripts/test-deps.sh installs it)", tool)
		}
	}
}

// stickImage makes a FAT image with a volume label, as a USB stick would hold.
func stickImage(t testing.TB, dir, name, label string) string {
	t.Helper()
	img := filepath.Join(dir, name)
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 4<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.vfat", "-n", label, img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v: %s", err, out)
	}
	return img
}

// attach attaches img to a free loop device (the kernel sends the uevents)
// and detaches it at the end of the test, if the agent has not already.
func attach(t testing.TB, img string) string {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup %s: %v: %s", img, err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { detach(dev, img) })
	return dev
}

// detach detaches dev if it still holds img.
func detach(dev, img string) {
	b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	if err == nil && strings.TrimSpace(string(b)) == img {
		_ = exec.Command("losetup", "-d", dev).Run()
	}
}

type apiDeviation struct {
	ID           string            `json:"id"`
	Rule         string            `json:"rule"`
	Subject      string            `json:"subject"`
	AgentID      string            `json:"agent_id"`
	Status       string            `json:"status"`
	Count        int               `json:"count"`
	Refs         []string          `json:"refs"`
	Assignees    []string          `json:"assignees"`
	PersonalData bool              `json:"personal_data"`
	BreachDue    time.Time         `json:"breach_due"`
	Facts        map[string]string `json:"facts"`
}

// deviations lists open deviations of a rule.
func (c *collector) deviations(rule string) ([]apiDeviation, error) {
	var v struct {
		Deviations []apiDeviation `json:"deviations"`
	}
	_, err := c.getJSON("/api/v1/deviations?status=open&limit=1000&rule="+url.QueryEscape(rule), &v)
	return v.Deviations, err
}

// waitDeviation polls until an open deviation of rule about a subject
// containing what exists, and returns it.
func (c *collector) waitDeviation(rule, what string, d time.Duration) apiDeviation {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last []apiDeviation
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = c.deviations(rule)
		for _, dv := range last {
			if strings.Contains(dv.Subject, what) {
				return dv
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no open %s deviation about %q within %v; have %+v (err %v)", rule, what, d, last, lastErr)
	return apiDeviation{}
}

type apiMediaEvent struct {
	AgentID string `json:"agent_id"`
	Seq     uint64 `json:"seq"`
	Event   struct {
		Action string `json:"action"`
		Device struct {
			Class   string `json:"class"`
			Serial  string `json:"serial"`
			Volumes []struct {
				FSType  string `json:"fs_type"`
				Label   string `json:"label"`
				Marking *struct {
					Source string `json:"source"`
					ID     string `json:"id"`
				} `json:"marking"`
			} `json:"volumes"`
		} `json:"device"`
		Decision *struct {
			Verdict  string `json:"verdict"`
			Rule     string `json:"rule"`
			Enforced bool   `json:"enforced"`
		} `json:"decision"`
	} `json:"event"`
}

// mediaLog returns the host's media events, newest first.
func (c *collector) mediaLog(agentID string) ([]apiMediaEvent, error) {
	var v struct {
		Events []apiMediaEvent `json:"events"`
	}
	_, err := c.getJSON("/api/v1/hosts/"+agentID+"/media?limit=1000", &v)
	return v.Events, err
}

// postCSV imports a media register with a drift token.
func (c *collector) postCSV(token, mode, csv string) (int, string) {
	c.t.Helper()
	return c.importCSV("/api/v1/media/register?mode="+mode, token, csv)
}

// importCSV posts a register in CSV form to an import path of the API.
func (c *collector) importCSV(path, token, csv string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", "https://"+c.web+path, bytes.NewBufferString(csv))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mediaCollector starts a collector whose policy marks media by label NK-*
// and by the marker file SONEVAKT.TXT, in the given mode.
func mediaCollector(t testing.TB, mode string) *collector {
	c := newCollector(t)
	conf := filepath.Join(t.TempDir(), "collector.yaml")
	body := fmt.Sprintf("data_dir: %s\nmedia:\n  mode: %s\n  label_pattern: \"NK-*\"\n  marker_file: SONEVAKT.TXT\n", c.data, mode)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = append(c.args, "--config", conf)
	c.start()
	return c
}

// mediaAgent enrolls an agent that reports loop devices as media, with the
// inventory sensor off so media are all it sends.
func mediaAgent(t testing.TB, c *collector) *agent {
	a := newAgent(t, c, "agent")
	conf := "log_level: debug\nsensors:\n  inventory: false\nsensor_options:\n  media:\n    include_loop: \"true\"\n"
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start()
	return a
}

// TestUnknownMediaOpensDeviation: a stick that is not in the register opens an
// unknown-media deviation with its identity, label, encryption and marking;
// an unmarked one also opens unmarked-media with a breach clock; a second
// insertion is an occurrence, not a new deviation; once registered and marked,
// the same medium opens nothing.
func TestUnknownMediaOpensDeviation(t *testing.T) {
	needRoot(t, "losetup", "mkfs.vfat")
	c := mediaCollector(t, "audit")
	a := mediaAgent(t, c)
	dir := t.TempDir()

	img := stickImage(t, dir, "stick.img", "PRIVATE")
	dev := attach(t, img)
	unknown := c.waitDeviation("unknown-media", img, 10*time.Second)
	if unknown.AgentID != a.id || unknown.Status != "ny" || unknown.Count != 1 {
		t.Errorf("unknown-media deviation %+v: want agent %s, status ny, count 1", unknown, a.id)
	}
	if !strings.HasPrefix(unknown.ID, fmt.Sprintf("AVVIK-%d-", time.Now().UTC().Year())) {
		t.Errorf("deviation id %q", unknown.ID)
	}
	facts := fmt.Sprint(unknown.Facts)
	for _, want := range []string{"PRIVATE", "vfat", img} {
		if !strings.Contains(facts, want) {
			t.Errorf("unknown-media facts %s lack %q", facts, want)
		}
	}
	unmarked := c.waitDeviation("unmarked-media", img, 5*time.Second)
	if !unmarked.PersonalData || unmarked.BreachDue.IsZero() {
		t.Errorf("unmarked-media deviation %+v: want a breach clock", unmarked)
	}

	// The media log holds the add with the agent's decision.
	evs, err := c.mediaLog(a.id)
	if err != nil {
		t.Fatal(err)
	}
	var add *apiMediaEvent
	for i := range evs {
		if evs[i].Event.Action == "add" && evs[i].Event.Device.Serial == img {
			add = &evs[i]
		}
	}
	if add == nil || add.Event.Decision == nil || add.Event.Decision.Verdict != "allow" || add.Event.Decision.Rule != "media.default.audit" ||
		len(add.Event.Device.Volumes) == 0 || add.Event.Device.Volumes[0].Label != "PRIVATE" || add.Event.Device.Volumes[0].Marking != nil {
		t.Fatalf("media log has no add of %s with an audit decision and unmarked volume: %+v", img, evs)
	}

	// Out and in again: one deviation, two occurrences.
	detach(dev, img)
	attach(t, img)
	deadline := time.Now().Add(10 * time.Second)
	for {
		dv := c.waitDeviation("unknown-media", img, time.Second)
		if dv.ID == unknown.ID && dv.Count == 2 {
			break
		}
		if dv.ID != unknown.ID || time.Now().After(deadline) {
			t.Fatalf("second insertion: deviation %+v, want %s with count 2", dv, unknown.ID)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A registered, marked medium opens nothing.
	drift := mustRun(t, "sonevakt-collector", "apitoken", "create", "--data", c.data, "--role", "drift", "--name", "drift")
	marked := stickImage(t, dir, "marked.img", "NK-0042")
	csv := "serial,vid,pid,marking_id,owner_unit,classification,encryption_required,note\n" + marked + ",,,NK-0042,IT,intern,no,e2e\n"
	if code, body := c.postCSV(drift, "merge", csv); code != 200 {
		t.Fatalf("register import: %d %s", code, body)
	}
	attach(t, marked)
	deadline = time.Now().Add(10 * time.Second)
	for {
		evs, err := c.mediaLog(a.id)
		if err != nil {
			t.Fatal(err)
		}
		seen := false
		for _, e := range evs {
			if e.Event.Action == "add" && e.Event.Device.Serial == marked {
				seen = true
				v := e.Event.Device.Volumes
				if len(v) == 0 || v[0].Marking == nil || v[0].Marking.ID != "NK-0042" {
					t.Fatalf("marked medium reported without its marking: %+v", e.Event.Device)
				}
			}
		}
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no add of %s in the media log", marked)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the rules run within milliseconds of ingest
	for _, rule := range []string{"unknown-media", "unmarked-media"} {
		dvs, err := c.deviations(rule)
		if err != nil {
			t.Fatal(err)
		}
		for _, dv := range dvs {
			if strings.Contains(dv.Subject, marked) {
				t.Errorf("registered, marked medium opened %+v", dv)
			}
		}
	}
}

// TestBlockModeStopsUnknownMedium: in block mode the agent detaches a medium
// the register lacks before anything can mount it, says which rule decided,
// and the collector opens the deviation.
func TestBlockModeStopsUnknownMedium(t *testing.T) {
	needRoot(t, "losetup", "mkfs.vfat")
	c := mediaCollector(t, "block")
	a := mediaAgent(t, c)
	img := stickImage(t, t.TempDir(), "blocked.img", "NK-0001")
	dev := attach(t, img)

	dv := c.waitDeviation("unknown-media", img, 10*time.Second)
	if !strings.Contains(fmt.Sprint(dv.Facts), "block") {
		t.Errorf("deviation facts %v do not carry the block decision", dv.Facts)
	}
	backing := filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(backing)
		if err != nil || strings.TrimSpace(string(b)) != img {
			break // detached by the agent
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still attached to %s in block mode", dev, img)
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs, err := c.mediaLog(a.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Event.Device.Serial == img && e.Event.Decision != nil {
			d := e.Event.Decision
			if d.Verdict != "block" || d.Rule != "media.default.block" || !d.Enforced {
				t.Fatalf("decision %+v: want block by media.default.block, enforced", d)
			}
			return
		}
	}
	t.Fatalf("no decision for %s in the media log: %+v", img, evs)
}
