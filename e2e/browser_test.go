package e2e

// The browser harness: Debian's chromium, headless, driven with chromedp
// against a real collector. The browser trusts the collector's server
// certificate by its public key alone (--ignore-certificate-errors-spki-list),
// read from the certificate the collector serves and checked against the
// collector's CA, so no other certificate error is let through.

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// needChromium skips a test when chromium is missing, naming the package;
// under CI=true, where the project's scripts install it, it fails instead.
func needChromium(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err == nil {
		return
	}
	msg := "needs Debian's chromium at " + chromiumPath + " for the browser tests: install the package chromium (make test-deps, or apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// spkiPin returns the base64 SHA-256 of the public key of the certificate
// the collector serves on its web address, after checking the certificate
// against the collector's CA.
func (c *collector) spkiPin() string {
	c.t.Helper()
	pem, err := os.ReadFile(filepath.Join(c.data, "ca", "ca.crt"))
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		c.t.Fatal("ca.crt holds no certificate")
	}
	host, _, _ := strings.Cut(c.web, ":")
	conn, err := tls.Dial("tcp", c.web, &tls.Config{RootCAs: pool, ServerName: host})
	if err != nil {
		c.t.Fatalf("TLS to the web address %s with the collector's CA: %v", c.web, err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

var firstPassword = regexp.MustCompile(`created user "admin" with password\s+(\S+)`)

// adminPassword returns the password the collector printed at its first start.
func (c *collector) adminPassword() string {
	c.t.Helper()
	m := firstPassword.FindStringSubmatch(c.p.out.String())
	if m == nil {
		c.t.Fatalf("no first-start admin password in the collector's output:\n%s", c.p.out.String())
	}
	return m[1]
}

// browser is one headless chromium for a test; sessions are tabs in their
// own browser contexts, so each has its own cookies.
type browser struct {
	t    testing.TB
	c    *collector
	base string
	ctx  context.Context // the browser's first tab
}

// newBrowser starts chromium for c; everything it does ends within d.
func newBrowser(t testing.TB, c *collector, d time.Duration) *browser {
	t.Helper()
	needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.Flag("lang", "nb-NO"),
		chromedp.Flag("accept-lang", "nb-NO,nb"),
		chromedp.Flag("ignore-certificate-errors-spki-list", c.spkiPin()),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel(); cancel() })
	b := &browser{t: t, c: c, base: "https://" + c.web, ctx: bctx}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(b.base+"/login")); err != nil {
		t.Fatalf("chromium: open %s/login: %v", b.base, err)
	}
	return b
}

// session opens a tab with its own cookies.
func (b *browser) session() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	s := &browser{t: b.t, c: b.c, base: b.base, ctx: ctx}
	s.do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(b.base+"/login"))
	return s
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser at %s: %v", b.location(), err)
	}
}

// location is the tab's URL, for messages.
func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

// open loads a path of the collector and waits for it to have loaded.
func (b *browser) open(path string) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("browser: open %s: %v", path, err)
	}
	b.waitJS(path+" loaded", `document.readyState === "complete"`, 10*time.Second)
	if resp != nil && resp.Status >= 400 {
		b.t.Errorf("browser: %s answered %d; page:\n%s", path, resp.Status, b.pageText())
	}
}

// eval runs JavaScript in the tab and decodes its value into v.
func (b *browser) eval(js string, v any) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser at %s: evaluate %s: %v", b.location(), js, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			b.t.Fatalf("evaluate %s: decode %s: %v", js, raw, err)
		}
	}
}

// str evaluates a JavaScript expression that gives a string.
func (b *browser) str(js string) string {
	b.t.Helper()
	var s string
	b.eval(js, &s)
	return s
}

// text is the visible text of the first element matching sel ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	return b.str(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : "" })()`, sel))
}

// has reports whether an element matches sel.
func (b *browser) has(sel string) bool {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`document.querySelector(%q) !== null`, sel), &ok)
	return ok
}

// waitJS polls a JavaScript condition until it is true, and fails the
// test if it is not within d.
func (b *browser) waitJS(what, cond string, d time.Duration) {
	b.t.Helper()
	if err := b.pollJS(cond, d); err != nil {
		b.t.Fatalf("browser at %s: %s not within %v (%v); page text:\n%s", b.location(), what, d, err, b.pageText())
	}
}

// pollJS polls a JavaScript condition until it is true; a page being
// replaced in the meantime is no error. It returns nil once the condition
// holds.
func (b *browser) pollJS(cond string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`))
		cancel()
		if err == nil && ok {
			return nil
		}
		lastErr = err
		if b.ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("condition false")
	}
	return lastErr
}

// pageText is the main element's text, shortened, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body || {innerText: ""}).innerText`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// submit clicks the element matching sel, which sends a form, and waits
// until the next page has loaded.
func (b *browser) submit(sel string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { window.__before = 1; const e = document.querySelector(%q); if (!e) throw new Error("no element %s"); e.click(); return true })()`, sel, strings.ReplaceAll(sel, `"`, `'`)), nil)
	b.waitJS("the page after "+sel, `window.__before === undefined && document.readyState === "complete"`, 15*time.Second)
}

// fill sets form fields by CSS selector: text fields, text areas and selects.
func (b *browser) fill(fields map[string]string) {
	b.t.Helper()
	for sel, v := range fields {
		b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) throw new Error("no field %s"); e.value = %q; e.dispatchEvent(new Event("change", {bubbles: true})); return e.value })()`,
			sel, strings.ReplaceAll(sel, `"`, `'`), v), nil)
	}
}

// login signs in through the login form and waits for a signed-in page.
func (b *browser) login(user, password string) {
	b.t.Helper()
	b.open("/login")
	b.fill(map[string]string{"#username": user, "#password": password})
	b.submit(`form[action="/login"] button[type=submit]`)
	b.waitJS("signed in as "+user, `document.querySelector("form.logout") !== null`, 5*time.Second)
}

// logout signs out with the button in the header.
func (b *browser) logout() {
	b.t.Helper()
	b.submit(`form.logout button[type=submit]`)
	b.waitJS("the login form", `document.querySelector("#password") !== null`, 5*time.Second)
}

// clearCookies forgets every cookie of the tab's browser context.
func (b *browser) clearCookies() {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
}

// post sends a form POST from the page with fetch, carrying the CSRF token
// of the page's first form, and returns the response's status.
func (b *browser) post(path string, form map[string]string) int {
	b.t.Helper()
	body, _ := json.Marshal(form)
	var status int
	b.eval(fmt.Sprintf(`(async () => {
		const f = new URLSearchParams(%s);
		const c = document.querySelector('input[name="csrf"]');
		if (c) f.set("csrf", c.value);
		const r = await fetch(%q, {method: "POST", body: f, redirect: "manual", credentials: "same-origin"});
		return r.status;
	})()`, body, path), &status)
	return status
}

// screenshot saves the viewport (1366x768) as docs/screenshots/<name>.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// tab opens another tab with the same cookies.
func (b *browser) tab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	s := &browser{t: b.t, c: b.c, base: b.base, ctx: ctx}
	s.do(chromedp.EmulateViewport(1366, 768))
	return s
}

// key types keys into the focused element (or the page).
func (b *browser) key(keys string) {
	b.t.Helper()
	b.do(chromedp.KeyEvent(keys))
}

// setUploadFiles puts a file into the file input matching sel.
func setUploadFiles(sel, file string) chromedp.Action[chromedp.Void] {
	return chromedp.SetUploadFiles(chromedp.CSS(sel), []string{file})
}
