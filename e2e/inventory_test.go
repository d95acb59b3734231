package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func (c *collector) getJSON(path string, v any) (int, error) {
	req, _ := http.NewRequest("GET", "https://"+c.web+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.api)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, b)
	}
	return 200, json.Unmarshal(b, v)
}

type apiInventory struct {
	Hash     string `json:"hash"`
	Software []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Arch    string `json:"arch"`
		Source  string `json:"source"`
	} `json:"software"`
	Users []struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	} `json:"users"`
	Hardware *struct {
		Disks []struct {
			Name string `json:"name"`
		} `json:"disks"`
	} `json:"hardware"`
}

// installedDpkg returns name:arch -> version of the packages dpkg-query calls installed.
func installedDpkg(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status} ${Package}:${Architecture} ${Version}\n").Output()
	if err != nil {
		t.Skipf("dpkg-query: %v (not a Debian machine)", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "installed" {
			m[f[1]] = f[2]
		}
	}
	return m
}

// TestInventoryEndToEnd: the agent's full inventory reaches the collector; the
// software list equals what dpkg-query reports installed; a restarted agent on
// an unchanged machine sends no new snapshot; software search finds the host.
func TestInventoryEndToEnd(t *testing.T) {
	want := installedDpkg(t)
	c := newCollector(t)
	c.start()
	a := newAgent(t, c, "agent")
	a.start()

	var inv apiInventory
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, err := c.getJSON("/api/v1/hosts/"+a.id+"/inventory", &inv)
		if err == nil && len(inv.Software) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no inventory with software within 60 s: %d %v", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := map[string]string{}
	for _, p := range inv.Software {
		if p.Source == "dpkg" {
			got[p.Name+":"+p.Arch] = p.Version
		}
	}
	if len(got) != len(want) {
		t.Errorf("collector holds %d dpkg packages, dpkg-query lists %d installed", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("package %s: collector has version %q, dpkg-query %q", k, got[k], v)
		}
	}
	hasRoot := false
	for _, u := range inv.Users {
		hasRoot = hasRoot || (u.Name == "root" && u.ID == "0")
	}
	if !hasRoot {
		t.Errorf("users %v lack root", inv.Users)
	}

	// Restart the agent on the unchanged machine: no new full snapshot.
	a.p.stop()
	a.start()
	time.Sleep(3 * time.Second)
	if strings.Count(a.p.out.String(), "inventory sent") != 0 {
		t.Errorf("restarted agent sent an inventory although nothing changed:\n%s", a.p.out.String())
	}
	var again apiInventory
	if _, err := c.getJSON("/api/v1/hosts/"+a.id+"/inventory", &again); err != nil || again.Hash != inv.Hash {
		t.Errorf("inventory after restart: hash %q (%v), want %q", again.Hash, err, inv.Hash)
	}

	// Software search across hosts.
	var hits struct {
		Hits []struct {
			AgentID string `json:"agent_id"`
		} `json:"hits"`
	}
	pkg := inv.Software[0].Name
	if _, err := c.getJSON("/api/v1/software?name="+url.QueryEscape(pkg), &hits); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range hits.Hits {
		found = found || h.AgentID == a.id
	}
	if !found {
		t.Errorf("software search for %q does not list the host: %+v", pkg, hits)
	}
}
