package e2e

// Tests of the operations UI in a real browser (browser_test.go): log in,
// the live map, a deviation handled from start to end in Norwegian, a CSV
// import with a bad line, the language switch, what a line manager and an
// auditor may see and do, accessibility checks, and the screenshots in
// docs/screenshots.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// a11yJS checks the page it runs in and returns its problems: form controls
// without a label, text whose contrast with its background is below WCAG AA
// (4.5, or 3 for large text), each naming the element.
const a11yJS = `(() => {
	const problems = [];
	const name = (e) => {
		let s = e.tagName.toLowerCase();
		if (e.id) s += "#" + e.id;
		if (e.className && typeof e.className === "string" && e.className.trim()) s += "." + e.className.trim().split(/\s+/).join(".");
		const t = (e.innerText || e.value || "").trim().slice(0, 40);
		return t ? s + " (" + JSON.stringify(t) + ")" : s;
	};
	const visible = (e) => {
		const r = e.getBoundingClientRect();
		if (r.width <= 1 || r.height <= 1) return false;
		for (let a = e; a && a.nodeType === 1; a = a.parentElement) {
			const cs = getComputedStyle(a);
			if (cs.visibility === "hidden" || cs.display === "none" || cs.opacity === "0") return false;
			if (cs.clip === "rect(0px, 0px, 0px, 0px)" || cs.clipPath === "inset(50%)") return false;
		}
		return true;
	};
	for (const e of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
		if (e.labels && e.labels.length > 0) continue;
		if ((e.getAttribute("aria-label") || "").trim()) continue;
		const by = (e.getAttribute("aria-labelledby") || "").trim();
		if (by && by.split(/\s+/).every((id) => document.getElementById(id))) continue;
		problems.push("form control without a label: " + name(e));
	}
	const parse = (c) => {
		const m = c.match(/rgba?\(([^)]+)\)/);
		if (!m) return null;
		const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
		return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
	};
	const over = (fg, bg) => [0, 1, 2].map((i) => fg[i] * fg[3] + bg[i] * (1 - fg[3])).concat([1]);
	const background = (e) => {
		const layers = [];
		for (let a = e; a && a.nodeType === 1; a = a.parentElement) {
			const c = parse(getComputedStyle(a).backgroundColor);
			if (c && c[3] > 0) {
				layers.push(c);
				if (c[3] >= 1) break;
			}
		}
		let bg = [255, 255, 255, 1];
		for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
		return bg;
	};
	const lum = (c) => {
		const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
	};
	for (const e of document.body.querySelectorAll("*")) {
		if (["SCRIPT", "STYLE", "NOSCRIPT", "OPTION", "svg"].includes(e.tagName)) continue;
		if (e.closest("svg")) continue;
		const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
		if (!own || !visible(e)) continue;
		const cs = getComputedStyle(e);
		const fg0 = parse(cs.color);
		if (!fg0) continue;
		const bg = background(e);
		const fg = over(fg0, bg);
		const l1 = lum(fg), l2 = lum(bg);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		const px = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
		const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
		if (ratio < need) problems.push("contrast " + ratio.toFixed(2) + " < " + need + ": " + name(e) + " color " + cs.color + " on " + "rgb(" + bg.slice(0, 3).map(Math.round).join(", ") + ")");
	}
	return problems;
})()`

// checkA11y opens each path and checks labels, contrast and that Tab from
// the top of the page reaches the skip link and the main navigation.
func checkA11y(t *testing.T, b *browser, paths ...string) {
	t.Helper()
	for _, p := range paths {
		b.open(p)
		var problems []string
		b.eval(a11yJS, &problems)
		for _, pr := range problems {
			t.Errorf("%s: %s", p, pr)
		}
		checkTabOrder(t, b, p)
	}
}

// checkTabOrder presses Tab from the top of a freshly loaded page until the
// main navigation's first link has the focus, having passed the skip link.
func checkTabOrder(t *testing.T, b *browser, path string) {
	t.Helper()
	b.eval(`(() => { if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0); return true })()`, nil)
	b.open(path) // fresh: the focus starts at the document
	skip, nav := false, false
	var seen []string
	for range 15 {
		b.key("\t")
		var at struct {
			Skip, Nav bool
			Desc      string
		}
		b.eval(`(() => { const e = document.activeElement; const n = document.querySelector("nav.main-nav a");
			return {Skip: !!e && e.matches("a.skip"), Nav: !!e && e === n,
				Desc: e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " " + (e.innerText || "").trim().slice(0, 30) : ""} })()`, &at)
		seen = append(seen, at.Desc)
		skip = skip || at.Skip
		if at.Nav {
			nav = true
			break
		}
	}
	if !skip || !nav {
		t.Errorf("%s: Tab from the top reached the skip link %v, the main navigation's first link %v; focus went %q", path, skip, nav, seen)
	}
}

// as makes the browsers report to t until the returned func is called.
func as(t testing.TB, bs ...*browser) func() {
	old := make([]testing.TB, len(bs))
	for i, b := range bs {
		old[i], b.t = b.t, t
	}
	return func() {
		for i, b := range bs {
			b.t = old[i]
		}
	}
}

// live is what a page says about its live updates: window.__noReload
// (set to 1 by the test; a reload loses it) and data-live-connected on <html>.
type live struct {
	NoReload  int    `json:"noReload"`
	Connected string `json:"connected"`
}

func liveState(b *browser) live {
	b.t.Helper()
	var v live
	b.eval(`({noReload: window.__noReload || 0, connected: document.documentElement.dataset.liveConnected || ""})`, &v)
	return v
}

// uiCollector starts a collector for the browser tests and returns it with a
// drift API token.
func uiCollector(t *testing.T) (*collector, string) {
	t.Helper()
	needChromium(t)
	c := newCollector(t)
	c.start()
	drift := mustRun(t, "sonevakt-collector", "apitoken", "create", "--data", c.data, "--role", "drift", "--name", "drift")
	return c, drift
}

// TestUILoginLanguageImport: a wrong password is refused on the page, the
// right one lands on the overview; an asset CSV with one bad line is refused
// with a report naming the line; English chosen with the language switch is
// remembered for the user across logging out, in a browser that forgot its
// cookies; and the main pages pass the accessibility checks.
func TestUILoginLanguageImport(t *testing.T) {
	t.Parallel()
	c, _ := uiCollector(t)
	b := newBrowser(t, c, 90*time.Second)
	pw := c.adminPassword()

	t.Run("login", func(t *testing.T) {
		defer as(t, b)()
		b.open("/login")
		b.fill(map[string]string{"#username": "admin", "#password": pw + "x"})
		b.submit(`form[action="/login"] button[type=submit]`)
		if got := b.text(`.alert-bad[role=alert]`); !strings.Contains(got, "Innloggingen mislyktes") {
			t.Errorf("wrong password: alert %q, want it to say the login failed; page:\n%s", got, b.pageText())
		}
		if b.has("form.logout") {
			t.Fatal("signed in with a wrong password")
		}
		b.login("admin", pw)
		if !b.has("h1#overview-title") {
			t.Errorf("after logging in: at %s, no h1#overview-title (the overview)", b.location())
		}
	})

	t.Run("csv import with a bad line", func(t *testing.T) {
		defer as(t, b)()
		file := filepath.Join(t.TempDir(), "eiendeler.csv")
		csv := "asset_tag,type,serial,macs,hostname,owner_unit,responsible,operated_by,building,room,zone,status,note\n" +
			"NK-0100,pc,SN100,,pc-100,,,kommunen,,,,active,\n" +
			"NK-0101,romskip,SN101,,pc-101,,,kommunen,,,,active,\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		b.open("/assets")
		b.do(setUploadFiles("input#file", file))
		b.submit(`form.upload button[type=submit]`)
		var lines []string
		b.eval(`[...document.querySelectorAll("table.problems tbody tr")].map((r) => r.innerText.replace(/\s+/g, " ").trim())`, &lines)
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, "3 ") {
				found = true
			}
		}
		if !found {
			t.Errorf("import report rows %q, want one naming line 3; page:\n%s", lines, b.pageText())
		}
	})

	t.Run("english remembered", func(t *testing.T) {
		defer as(t, b)()
		b.open("/hosts")
		b.submit(`nav.lang a[hreflang="en"]`)
		if lang, out := b.str(`document.documentElement.lang`), b.text(`form.logout button`); lang != "en" || out != "Log out" {
			t.Errorf("after choosing English: lang %q, log out button %q", lang, out)
		}
		b.logout()
		b.clearCookies()
		b.open("/login")
		if lang := b.str(`document.documentElement.lang`); lang != "nb" {
			t.Errorf("login page without cookies in %q, want nb", lang)
		}
		b.login("admin", pw)
		if lang, out := b.str(`document.documentElement.lang`), b.text(`form.logout button`); lang != "en" || out != "Log out" {
			t.Errorf("after logging in again: lang %q, log out button %q; want English remembered for the user", lang, out)
		}
		b.submit(`nav.lang a[hreflang="nb"]`)
	})

	t.Run("accessibility", func(t *testing.T) {
		defer as(t, b)()
		// The checker itself finds a pale text and an unlabelled field.
		b.open("/hosts")
		var problems []string
		b.eval(`(() => { const p = document.createElement("p"); p.id = "pale"; p.textContent = "blek tekst"; p.style.color = "#aaa"; p.style.background = "#fff";
			const i = document.createElement("input"); i.id = "unlabelled"; document.querySelector("main").append(p, i); return true })()`, nil)
		b.eval(a11yJS, &problems)
		if j := strings.Join(problems, "\n"); !strings.Contains(j, "p#pale") || !strings.Contains(j, "input#unlabelled") {
			t.Errorf("the checker missed planted problems; it found:\n%s", j)
		}
		checkA11y(t, b, "/", "/hosts", "/configmap", "/deviations", "/assets", "/org", "/media", "/software", "/admin", "/audit")
	})
}

// TestUIOperations: with the host list and the map open, an agent enrolls
// and shows up on both without a reload; its unregistered-host deviation is
// assigned, commented, taken under handling and closed in Norwegian with
// every step on its timeline; a line manager does not see another's
// deviation; an auditor gets no change forms and is refused by the
// handlers; the pages pass the accessibility checks; and the screenshots
// are written.
func TestUIOperations(t *testing.T) {
	t.Parallel()
	c, drift := uiCollector(t)
	b := newBrowser(t, c, 110*time.Second)
	pw := c.adminPassword()
	b.login("admin", pw)

	// The organisation: two units, each with its line manager.
	c.mustImport("/api/v1/org/people?mode=merge", drift, "id,name,email,phone,unit,roles,username,lang\n"+
		"siri,Siri Sikker,siri@kommune.example,,,sikkerhet,siri,nb\n"+
		"hilde,Hilde Helse,hilde@kommune.example,,,leder,hilde,nb\n"+
		"lars,Lars Skole,lars@kommune.example,,,leder,lars,nb\n")
	c.mustImport("/api/v1/org/units?mode=merge", drift, "id,name,parent,manager\nhelse,Helse og omsorg,,hilde\nskole,Skole,,lars\n")

	// Users, made on the admin page; each password is shown once.
	passwords := map[string]string{}
	t.Run("admin creates users", func(t *testing.T) {
		defer as(t, b)()
		for _, u := range []struct{ name, role string }{{"hilde", "leder"}, {"lars", "leder"}, {"rita", "revisor"}} {
			b.open("/admin")
			b.fill(map[string]string{"#user-name": u.name, "#user-role": u.role})
			b.submit("#user-create-submit")
			passwords[u.name] = strings.TrimSpace(b.text("#secret-once"))
			if passwords[u.name] == "" {
				t.Fatalf("no password shown for the new user %s; page:\n%s", u.name, b.pageText())
			}
		}
	})
	hosts := b.tab()
	hosts.open("/hosts")
	b.open("/configmap")
	for _, p := range []*browser{b, hosts} {
		p.eval(`window.__noReload = 1`, nil)
	}

	a := newAgent(t, c, "agent")
	if err := os.WriteFile(a.conf, []byte("log_level: debug\nsensors:\n  media: false\n  traffic: false\n  sockets: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start()
	hostname, _ := os.Hostname()

	t.Run("live map and host list", func(t *testing.T) {
		defer as(t, b, hosts)()
		rowJS := fmt.Sprintf(`document.querySelector('tr[data-agent=%q]') !== null`, a.id)
		tileJS := fmt.Sprintf(`[...document.querySelectorAll("[data-key]")].some((e) => e.dataset.key.includes(%q) || ((e.querySelector(".tile-name") || {}).innerText || "").trim() === %q)`, a.id, hostname)
		rowErr := hosts.pollJS(rowJS, 20*time.Second)
		tileErr := b.pollJS(tileJS, 5*time.Second)
		for _, w := range []struct {
			p        *browser
			path, js string
			err      error
		}{{hosts, "/hosts", rowJS, rowErr}, {b, "/configmap", tileJS, tileErr}} {
			if w.err == nil {
				continue
			}
			// Tell a missing live update from a wrong selector.
			v := liveState(w.p)
			w.p.open(w.path)
			var after bool
			w.p.eval(w.js, &after)
			t.Errorf("%s: agent %s (host %s) not shown without a reload within the wait (%v); data-live-connected %q, reloaded %v; after a reload it is shown: %v",
				w.path, a.id, hostname, w.err, v.Connected, v.NoReload != 1, after)
		}
		if rowErr != nil || tileErr != nil {
			return
		}
		for name, p := range map[string]*browser{"/configmap": b, "/hosts": hosts} {
			v := liveState(p)
			if v.NoReload != 1 {
				t.Errorf("%s reloaded while the agent appeared", name)
			}
			if v.Connected != "1" {
				t.Errorf("%s: data-live-connected %q, want 1", name, v.Connected)
			}
		}
	})

	dev := c.waitDeviation("unregistered-host", "host:"+a.id, 40*time.Second)
	devPath := "/deviations/" + dev.ID
	timeline := func() string { return b.text("table.timeline") }

	t.Run("deviation workflow in Norwegian", func(t *testing.T) {
		defer as(t, b)()
		b.open("/deviations")
		b.submit(fmt.Sprintf(`a[href=%q]`, devPath))
		if lang := b.str(`document.documentElement.lang`); lang != "nb" {
			t.Errorf("deviation page in %q, want nb", lang)
		}
		b.fill(map[string]string{"select#assign-to": "user:lars"})
		b.submit("button#assign-submit")
		if tl := timeline(); !strings.Contains(tl, "Tildeling") {
			t.Errorf("no assignment (Tildeling) on the timeline after assigning:\n%s", tl)
		}
		if got := b.text("#assignees"); !strings.Contains(got, "lars") {
			t.Errorf("assignees %q after assigning to lars", got)
		}
		b.fill(map[string]string{"textarea#comment": "Sjekker hvem som eier maskinen."})
		b.submit(`form[action$="/comments"] button[type=submit]`)
		b.fill(map[string]string{"select#new-status": "under behandling", "textarea#reason": "Tatt til behandling."})
		b.submit(`form[action$="/status"] button[type=submit]`)
		if tl := timeline(); !strings.Contains(tl, "Kommentar") || !strings.Contains(tl, "Sjekker hvem som eier maskinen.") || !strings.Contains(tl, "under behandling") {
			t.Errorf("timeline lacks the comment or the status change to under behandling:\n%s", tl)
		}
	})

	t.Run("line manager sees only their own", func(t *testing.T) {
		if passwords["hilde"] == "" || passwords["lars"] == "" {
			t.Skip("the line managers were not created on the admin page")
		}
		defer as(t, b)()
		hilde := b.session()
		hilde.login("hilde", passwords["hilde"])
		hilde.open("/deviations")
		if hilde.has(fmt.Sprintf(`a[href=%q]`, devPath)) {
			t.Errorf("hilde (leder, helse) sees %s, assigned to lars (skole), in the list", dev.ID)
		}
		var status int
		hilde.eval(fmt.Sprintf(`fetch(%q).then((r) => r.status)`, devPath), &status)
		if status != http.StatusNotFound {
			t.Errorf("hilde opening %s: %d, want 404", devPath, status)
		}
		lars := b.session()
		lars.login("lars", passwords["lars"])
		lars.open("/deviations")
		if !lars.has(fmt.Sprintf(`a[href=%q]`, devPath)) {
			t.Errorf("lars does not see %s, assigned to him; page:\n%s", dev.ID, lars.pageText())
		}
	})

	t.Run("auditor changes nothing", func(t *testing.T) {
		if passwords["rita"] == "" {
			t.Skip("the auditor was not created on the admin page")
		}
		defer as(t, b)()
		rita := b.session()
		rita.login("rita", passwords["rita"])
		rita.open(devPath)
		if !rita.has("table.timeline") {
			t.Fatalf("the auditor cannot read %s; page:\n%s", dev.ID, rita.pageText())
		}
		var forms []string
		rita.eval(`[...document.querySelectorAll("main form")].map((f) => f.getAttribute("action"))`, &forms)
		if len(forms) != 0 {
			t.Errorf("the auditor is shown forms %q on %s", forms, devPath)
		}
		for _, p := range []struct {
			path string
			form map[string]string
		}{
			{devPath + "/status", map[string]string{"status": "lukket", "reason": "revisor"}},
			{devPath + "/comments", map[string]string{"text": "revisor"}},
			{devPath + "/assign", map[string]string{"assignee": "user:rita"}},
			{"/assets", map[string]string{"mode": "merge"}},
			{"/admin/users", map[string]string{"name": "eve", "role": "admin"}},
		} {
			if got := rita.post(p.path, p.form); got != http.StatusForbidden {
				t.Errorf("auditor POST %s from the page: %d, want 403", p.path, got)
			}
		}
		// The same straight against the API, with the auditor's token.
		req, _ := http.NewRequest("POST", "https://"+c.web+"/api/v1"+devPath+"/status", strings.NewReader(`{"status":"lukket","reason":"revisor"}`))
		req.Header.Set("Authorization", "Bearer "+c.api) // c.api is a revisor token
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("auditor token POST /api/v1%s/status: %d, want 403", devPath, resp.StatusCode)
		}
	})

	t.Run("accessibility", func(t *testing.T) {
		defer as(t, b)()
		checkA11y(t, b, "/hosts/"+a.id, devPath)
	})

	// While the deviation is under handling, so that the pages show it.
	t.Run("screenshots", func(t *testing.T) {
		defer as(t, b)()
		for _, s := range []struct{ name, path string }{
			{"overview", "/"}, {"configmap", "/configmap"}, {"host", "/hosts/" + a.id},
			{"deviations", "/deviations"}, {"deviation", devPath}, {"assets", "/assets"},
			{"admin", "/admin"}, {"audit", "/audit"},
		} {
			b.open(s.path)
			b.eval(`document.fonts.ready.then(() => true)`, nil)
			b.screenshot(s.name)
		}
	})

	t.Run("close with a reason", func(t *testing.T) {
		defer as(t, b)()
		b.open(devPath)
		b.fill(map[string]string{"select#new-status": "lukket", "textarea#reason": "Maskinen er ført inn i registeret."})
		b.submit(`form[action$="/status"] button[type=submit]`)
		tl := timeline()
		for _, want := range []string{"Opprettet", "Tildeling", "Kommentar", "under behandling", "lukket", "Maskinen er ført inn i registeret."} {
			if !strings.Contains(tl, want) {
				t.Errorf("timeline lacks %q:\n%s", want, tl)
			}
		}
		if !strings.Contains(b.pageText(), "Avviket er avsluttet") {
			t.Errorf("closed deviation does not say it is finished; page:\n%s", b.pageText())
		}
	})

}
