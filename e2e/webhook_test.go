package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sonevakt/sonevakt/pkg/pki"
)

// webhookBody is the part of a deviation webhook body the test checks.
type webhookBody struct {
	Event        string   `json:"event"`
	ID           string   `json:"id"`
	Rule         string   `json:"rule"`
	Subject      string   `json:"subject"`
	Severity     string   `json:"severity"`
	Title        string   `json:"title"`
	Refs         []string `json:"refs"`
	Assignees    []string `json:"assignees"`
	PersonalData bool     `json:"personal_data"`
	BreachDue    string   `json:"breach_due"`
	Link         string   `json:"link"`
	Lang         string   `json:"lang"`
	Summary      string   `json:"summary"`
}

// webhookReceiver is a webhook receiver as a municipality's case system would
// run one: it checks every request's signature with the shared secret and,
// while down, answers 503.
type webhookReceiver struct {
	t      *testing.T
	secret []byte

	mu        sync.Mutex
	down      bool
	refused   map[string]int // 503s by X-Sonevakt-Delivery
	delivered map[string]int // 200s by X-Sonevakt-Delivery
	bodies    map[string]webhookBody
	badSigs   int
}

func (h *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.t.Errorf("read webhook body: %v", err)
	}
	ts := r.Header.Get("X-Sonevakt-Timestamp")
	mac := hmac.New(sha256.New, h.secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	sec, tsErr := strconv.ParseInt(ts, 10, 64)
	id := r.Header.Get("X-Sonevakt-Delivery")

	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json":
		h.t.Errorf("webhook request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	case r.URL.Query().Get("token") != "abc":
		h.t.Errorf("webhook request to %s lost its query", r.URL)
	case tsErr != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute:
		h.t.Errorf("webhook timestamp %q is not within 5 min of now", ts)
	case !hmac.Equal([]byte(r.Header.Get("X-Sonevakt-Signature")), []byte(want)):
		h.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	case id == "":
		h.t.Error("webhook request without X-Sonevakt-Delivery")
	}
	if h.down {
		h.refused[id]++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.delivered[id]++
	var b webhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		h.t.Errorf("webhook body is not JSON: %v: %s", err, body)
	}
	h.bodies[id] = b
	w.WriteHeader(http.StatusOK)
}

// state returns copies of what the receiver saw.
func (h *webhookReceiver) state() (refused, delivered map[string]int, bodies map[string]webhookBody, badSigs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := make(map[string]int, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	bodies = make(map[string]webhookBody, len(h.bodies))
	for k, v := range h.bodies {
		bodies[k] = v
	}
	return cp(h.refused), cp(h.delivered), bodies, h.badSigs
}

func (h *webhookReceiver) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

var messageIDRe = regexp.MustCompile(`(?m)^Message-ID: (<[^>]+>)\r?$`)

// TestNotificationsAfterReceiversWereDown: new deviations are mailed to the
// security officer and POSTed, signed, to a webhook while both receivers are
// down (the mail server not listening, the webhook answering 503); once they
// are back, each deviation reaches each exactly once — also across a restart
// of the collector — and its timeline says who was told, how and when.
func TestNotificationsAfterReceiversWereDown(t *testing.T) {
	needRoot(t, "losetup", "mkfs.vfat")
	dir := t.TempDir()
	ca, err := pki.NewCA("receivers' CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, key, err := ca.ServerCert([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("receivers-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	pwFile := write("smtp-password", []byte("pw\n"))
	secret := []byte("e2e-delt-hemmelighet-0123456789")
	secretFile := write("webhook.key", append(secret, '\n'))

	hook := &webhookReceiver{t: t, secret: secret, down: true,
		refused: map[string]int{}, delivered: map[string]int{}, bodies: map[string]webhookBody{}}
	hsrv := httptest.NewUnstartedServer(hook)
	hsrv.TLS = serverTLS
	hsrv.StartTLS()
	t.Cleanup(hsrv.Close)
	hookURL := hsrv.URL + "/hooks/sonevakt?token=abc"

	// The mail server is not listening until the deviations are open.
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	c := newCollector(t)
	conf := write("collector.yaml", fmt.Appendf(nil, `data_dir: %s
media:
  label_pattern: "NK-*"
notify:
  ui_url: https://sonevakt.example:8443
  smtp:
    addr: %s
    from: "Sonevakt <sonevakt@kommune.example>"
    username: sonevakt
    password_file: %s
    ca_file: %s
  security_officer:
    email: isa@kommune.example
    lang: nb
  webhooks:
    - url: %q
      secret_file: %s
      ca_file: %s
      lang: en
`, c.data, smtpAddr, pwFile, caFile, hookURL, secretFile, caFile))
	c.args = append(c.args, "--config", conf)
	c.start()
	mediaAgent(t, c)
	img := stickImage(t, dir, "hook.img", "PRIVAT")
	attach(t, img)
	// An unknown, unmarked stick opens two deviations: unknown-media, and
	// unmarked-media with a breach clock.
	devs := []apiDeviation{
		c.waitDeviation("unknown-media", img, 10*time.Second),
		c.waitDeviation("unmarked-media", img, 10*time.Second),
	}

	// Down for a while: each webhook refused at least twice, the mail
	// server's refusal logged.
	waitNotified(t, 20*time.Second, "each webhook refused twice and a mail attempt failed", func() bool {
		refused, _, _, _ := hook.state()
		twice := 0
		for _, n := range refused {
			if n >= 2 {
				twice++
			}
		}
		return twice >= len(devs) && mailRetryLogged(c.p.out.String())
	})
	box := &mailbox{}
	l, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		t.Fatalf("listen on the mail server's port %s: %v", smtpAddr, err)
	}
	msrv := smtp.NewServer(box)
	msrv.Domain = "localhost"
	msrv.TLSConfig = serverTLS
	go msrv.Serve(l)
	t.Cleanup(func() { msrv.Close() })
	hook.setDown(false)

	// Back up: each deviation is mailed once and POSTed once.
	mailsFor := func(id string) []string {
		var mine []string
		for _, m := range box.all() {
			if strings.Contains(m, id) {
				mine = append(mine, m)
			}
		}
		return mine
	}
	hooksFor := func(id string) (delivered int, deliveryIDs []string) {
		_, got, bodies, _ := hook.state()
		for k, n := range got {
			if bodies[k].ID == id {
				delivered += n
				deliveryIDs = append(deliveryIDs, k)
			}
		}
		return delivered, deliveryIDs
	}
	waitNotified(t, 30*time.Second, "every deviation mailed and POSTed", func() bool {
		for _, dv := range devs {
			if n, _ := hooksFor(dv.ID); n == 0 || len(mailsFor(dv.ID)) == 0 {
				return false
			}
		}
		return true
	})
	// A redelivery would come within the first backoffs; and a restart
	// must not send again.
	time.Sleep(3 * time.Second)
	c.p.stop()
	c.start()
	time.Sleep(3 * time.Second)

	refused, _, bodies, badSigs := hook.state()
	t.Logf("webhook 503s by delivery id before the receiver came back: %v", refused)
	if badSigs != 0 {
		t.Errorf("%d webhook requests had a signature that does not verify with the shared secret", badSigs)
	}
	for _, dv := range devs {
		n, ids := hooksFor(dv.ID)
		if n != 1 || len(ids) != 1 {
			t.Errorf("%s: webhook delivered %d times under delivery ids %q, want once", dv.ID, n, ids)
			continue
		}
		if refused[ids[0]] < 2 {
			t.Errorf("%s: webhook refused %d times before delivery, want at least 2", dv.ID, refused[ids[0]])
		}
		b := bodies[ids[0]]
		if b.Event != "deviation.created" || b.Rule != dv.Rule || b.Subject != dv.Subject || b.Severity == "" || b.Title == "" ||
			len(b.Refs) == 0 || len(b.Assignees) == 0 || b.Lang != "en" || !strings.Contains(b.Summary, "New deviation "+dv.ID) ||
			b.Link != "https://sonevakt.example:8443/deviations/"+dv.ID {
			t.Errorf("%s: webhook body %+v does not describe %+v", dv.ID, b, dv)
		}
		if dv.PersonalData != (b.BreachDue != "") || b.PersonalData != dv.PersonalData {
			t.Errorf("%s: personal data %v, webhook breach_due %q personal_data %v", dv.ID, dv.PersonalData, b.BreachDue, b.PersonalData)
		}

		mails := mailsFor(dv.ID)
		msgIDs := map[string]bool{}
		for _, m := range mails {
			if id := messageIDRe.FindStringSubmatch(m); id != nil {
				msgIDs[id[1]] = true
			}
		}
		if len(mails) != 1 || len(msgIDs) != 1 {
			t.Errorf("%s: %d mails with Message-IDs %v, want one", dv.ID, len(mails), msgIDs)
		} else if !strings.Contains(mails[0], "To: <isa@kommune.example>") || !strings.Contains(mails[0], "Nytt avvik "+dv.ID) {
			t.Errorf("%s: mail is not to the security officer in Norwegian:\n%s", dv.ID, mails[0])
		}

		checkNotificationTimeline(t, c, dv.ID, []string{
			"E-mail to isa@kommune.example delivered",
			"Webhook to " + hsrv.URL + "/hooks/sonevakt delivered",
		})
	}
}

// checkNotificationTimeline checks that a deviation's timeline has exactly
// the notification entries want (in any order), and that none shows the
// webhook's query token.
func checkNotificationTimeline(t *testing.T, c *collector, id string, want []string) {
	t.Helper()
	var dv struct {
		Timeline []struct {
			At     string          `json:"at"`
			Actor  string          `json:"actor"`
			Type   string          `json:"type"`
			Text   string          `json:"text"`
			Detail json.RawMessage `json:"detail"`
		} `json:"timeline"`
	}
	if _, err := c.getJSON("/api/v1/deviations/"+id, &dv); err != nil {
		t.Fatalf("read deviation %s: %v", id, err)
	}
	var got []string
	for _, e := range dv.Timeline {
		if e.Type != "notification" {
			continue
		}
		got = append(got, e.Text)
		if e.At == "" || e.Actor != "system" || strings.Contains(string(e.Detail), "token=abc") || strings.Contains(e.Text, "token=abc") {
			t.Errorf("%s: notification entry %+v (detail %s)", id, e, e.Detail)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: timeline notifications %q, want %q", id, got, want)
		return
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("%s: timeline notifications %q lack %q", id, got, w)
		}
	}
}

// mailRetryLogged reports whether the collector logged a failed e-mail
// attempt that it will retry.
func mailRetryLogged(log string) bool {
	for line := range strings.Lines(log) {
		if strings.Contains(line, "will retry") && strings.Contains(line, "channel=email") {
			return true
		}
	}
	return false
}

// waitNotified polls cond until it holds, failing the test after d.
func waitNotified(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
