package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/pki"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testTLS returns a server certificate for 127.0.0.1 from a fresh CA and a
// pool trusting that CA.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA("notify test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	der, key, err := ca.ServerCert([]string{"127.0.0.1"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// received is one message a test SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

// mailServer is a real SMTP receiver: STARTTLS, AUTH PLAIN as user/secret,
// recipients containing "reject" refused with 550, and the first refuse
// MAIL commands answered with 451.
type mailServer struct {
	mu     sync.Mutex
	msgs   []received
	refuse int
}

func (b *mailServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{b: b, c: c}, nil
}

func (b *mailServer) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type mailSession struct {
	b      *mailServer
	c      *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "user" || password != "secret" {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.refuse > 0 {
		s.b.refuse--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.Contains(to, "reject") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, received{from: s.from, to: s.to, data: b, tls: isTLS})
	return nil
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// serveMail starts be on addr ("127.0.0.1:0" for any port) with STARTTLS
// when tc is not nil, and returns the address.
func serveMail(t *testing.T, be *mailServer, addr string, tc *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.TLSConfig = tc
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

// freeAddr returns a local address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newSMTP(t *testing.T, addr string, pool *x509.CertPool) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(SMTPConfig{
		Addr: addr, From: "Sonevakt <sonevakt@kommune.example>", Username: "user", Password: "secret",
		RootCAs: pool, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openOutbox(t *testing.T) *sqlstore.Outbox {
	t.Helper()
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "sonevakt.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Outbox()
}

// runDispatcher runs d until the test ends.
func runDispatcher(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func fastBackoff(int) time.Duration { return 20 * time.Millisecond }

// waitEntry polls the outbox entry id until cond holds.
func waitEntry(t *testing.T, ob *sqlstore.Outbox, id string, cond func(Pending) bool) Pending {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, err := ob.Entry(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("entry %s never reached the expected state: %+v", id, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSMTPSend(t *testing.T) {
	tc, pool := testTLS(t)
	be := &mailServer{}
	addr := serveMail(t, be, "127.0.0.1:0", tc)
	s := newSMTP(t, addr, pool)

	m := Message{ID: "AVVIK-2026-3/created/mail:ola@kommune.example", Channel: ChannelEmail, To: "Ola Nordmann <ola@kommune.example>",
		Lang: "nb", Subject: "Nytt avvik: ukjent minnepinne på PC-17 (æøå ÆØÅ)",
		Text: "Hei Ola,\nEn ukjent minnepinne ble satt i PC-17.\n.\nLinje med punktum over; og en lang linje " + strings.Repeat("blåbær ", 20) + "\n"}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := be.received()
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	r := got[0]
	if !r.tls {
		t.Error("message was not sent over TLS")
	}
	if r.from != "sonevakt@kommune.example" || len(r.to) != 1 || r.to[0] != "ola@kommune.example" {
		t.Errorf("envelope = %q -> %q", r.from, r.to)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(r.data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != m.Subject {
		t.Errorf("Subject = %q, %v, want %q", subj, err, m.Subject)
	}
	if raw := msg.Header.Get("Subject"); !strings.Contains(raw, "=?utf-8?q?") {
		t.Errorf("raw Subject %q is not RFC 2047 encoded", raw)
	}
	if from, err := msg.Header.AddressList("From"); err != nil || from[0].Address != "sonevakt@kommune.example" || from[0].Name != "Sonevakt" {
		t.Errorf("From = %v, %v", from, err)
	}
	if to, err := msg.Header.AddressList("To"); err != nil || to[0].Address != "ola@kommune.example" || to[0].Name != "Ola Nordmann" {
		t.Errorf("To = %v, %v", to, err)
	}
	if d, err := msg.Header.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date = %v, %v", d, err)
	}
	for h, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Content-Language":          "nb",
		"Auto-Submitted":            "auto-generated",
	} {
		if v := msg.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	id := msg.Header.Get("Message-Id")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@kommune.example>") {
		t.Errorf("Message-ID = %q", id)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(m.Text, "\n", "\r\n"); string(body) != want {
		t.Errorf("body = %q, want %q", body, want)
	}

	// The same id gives the same Message-ID, so a receiver can drop a redelivery.
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	msg2, _ := mail.ReadMessage(bytes.NewReader(be.received()[1].data))
	if got := msg2.Header.Get("Message-Id"); got != id {
		t.Errorf("second Message-ID = %q, want %q", got, id)
	}
}

func TestSMTPRejects(t *testing.T) {
	tc, pool := testTLS(t)
	be := &mailServer{}
	addr := serveMail(t, be, "127.0.0.1:0", tc)
	s := newSMTP(t, addr, pool)
	base := Message{ID: "x", Channel: ChannelEmail, To: "ola@kommune.example", Subject: "s", Text: "t"}

	for name, m := range map[string]Message{
		"subject CRLF":   {ID: "x", To: base.To, Subject: "hei\r\nBcc: eve@evil.example", Text: "t"},
		"subject LF":     {ID: "x", To: base.To, Subject: "hei\nBcc: eve@evil.example", Text: "t"},
		"recipient CRLF": {ID: "x", To: "ola@kommune.example\r\nBcc: eve@evil.example", Subject: "s"},
		"bad address":    {ID: "x", To: "not an address", Subject: "s"},
		"550 recipient":  {ID: "x", To: "reject@kommune.example", Subject: "s"},
	} {
		if err := s.Send(t.Context(), m); !errors.Is(err, ErrPermanent) {
			t.Errorf("%s: Send = %v, want ErrPermanent", name, err)
		}
	}
	if n := len(be.received()); n != 0 {
		t.Errorf("received %d messages, want 0", n)
	}
	if _, err := NewSMTPSender(SMTPConfig{Addr: addr, From: "a@b.example\r\nBcc: eve@evil.example"}); err == nil {
		t.Error("NewSMTPSender(From with CRLF) = nil error")
	}

	// Untrusted certificate: the client's pool does not hold the server's CA.
	_, otherPool := testTLS(t)
	if err := newSMTP(t, addr, otherPool).Send(t.Context(), base); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("Send(untrusted cert) = %v, want a retryable error", err)
	}

	// No STARTTLS: refused unless allowed.
	plain := serveMail(t, be, "127.0.0.1:0", nil)
	s2, err := NewSMTPSender(SMTPConfig{Addr: plain, From: "sonevakt@kommune.example", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Send(t.Context(), base); !errors.Is(err, ErrNoTLS) {
		t.Errorf("Send(no STARTTLS) = %v, want ErrNoTLS", err)
	}
	if n := len(be.received()); n != 0 {
		t.Errorf("received %d messages, want 0", n)
	}
}

func TestDispatcherSMTPServerComesUp(t *testing.T) {
	tc, pool := testTLS(t)
	addr := freeAddr(t)
	ob := openOutbox(t)
	d := &Dispatcher{
		Outbox:      ob,
		Senders:     map[string]Sender{ChannelEmail: newSMTP(t, addr, pool)},
		Backoff:     fastBackoff,
		MaxAttempts: 1000,
		Logger:      testLogger(t),
	}
	runDispatcher(t, d)
	m := Message{ID: "AVVIK-2026-1/created/mail:ola", Channel: ChannelEmail, To: "ola@kommune.example", Lang: "nb", Subject: "Avvik", Text: "Hei"}
	if err := ob.Enqueue(t.Context(), []Message{m}, time.Now()); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	// Nothing listens: attempts fail with connection refused.
	p := waitEntry(t, ob, m.ID, func(p Pending) bool { return p.Attempts >= 3 })
	if p.LastError == "" || !p.DeliveredAt.IsZero() || p.Failed {
		t.Fatalf("entry while server down = %+v", p)
	}
	// The server comes up on the same port, but answers 451 twice more.
	be := &mailServer{refuse: 2}
	serveMail(t, be, addr, tc)
	p = waitEntry(t, ob, m.ID, func(p Pending) bool { return !p.DeliveredAt.IsZero() })
	if p.Failed || p.LastError != "" {
		t.Errorf("delivered entry = %+v", p)
	}
	// A duplicate enqueue of a delivered message is ignored.
	if err := ob.Enqueue(t.Context(), []Message{m}, time.Now()); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	time.Sleep(200 * time.Millisecond)
	if n := len(be.received()); n != 1 {
		t.Errorf("received %d messages, want exactly 1", n)
	}
	be.mu.Lock()
	if be.refuse != 0 {
		t.Errorf("server still refusing %d, want 0", be.refuse)
	}
	be.mu.Unlock()
	if p2, _ := ob.Entry(t.Context(), m.ID); p2.Attempts != p.Attempts || !p2.DeliveredAt.Equal(p.DeliveredAt) {
		t.Errorf("entry after duplicate enqueue = %+v, want %+v", p2, p)
	}
}

func TestDispatcherGivesUp(t *testing.T) {
	tc, pool := testTLS(t)
	be := &mailServer{}
	up := serveMail(t, be, "127.0.0.1:0", tc)
	ob := openOutbox(t)
	d := &Dispatcher{
		Outbox: ob,
		Senders: map[string]Sender{
			ChannelEmail: newSMTP(t, up, pool),
			"down":       newSMTP(t, freeAddr(t), pool),
		},
		Backoff:     fastBackoff,
		MaxAttempts: 3,
		Logger:      testLogger(t),
	}
	runDispatcher(t, d)
	msgs := []Message{
		{ID: "down", Channel: "down", To: "ola@kommune.example", Subject: "s"},
		{ID: "reject", Channel: ChannelEmail, To: "reject@kommune.example", Subject: "s"},
		{ID: "nosender", Channel: "sms", To: "+4700000000", Subject: "s"},
	}
	if err := ob.Enqueue(t.Context(), msgs, time.Now()); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	for id, attempts := range map[string]int{"down": 3, "reject": 1, "nosender": 3} {
		p := waitEntry(t, ob, id, func(p Pending) bool { return p.Failed })
		if p.Attempts != attempts || p.LastError == "" || !p.DeliveredAt.IsZero() {
			t.Errorf("%s: given-up entry = attempts %d, error %q, delivered %v; want %d attempts", id, p.Attempts, p.LastError, p.DeliveredAt, attempts)
		}
	}
	if n := len(be.received()); n != 0 {
		t.Errorf("received %d messages, want 0", n)
	}
}

// hookReceiver checks each request's signature and answers 500 to the first
// fail requests.
type hookReceiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	fail   int
	status int // answer after the failures; 0 for 204
	reqs   int
	got    map[string]int // delivered bodies by X-Sonevakt-Delivery
	bodies map[string][]byte
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Sonevakt-Timestamp")
	mac := hmac.New(sha256.New, h.secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	sec, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json":
		h.t.Errorf("request %s %s", r.Method, r.Header.Get("Content-Type"))
	case err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute:
		h.t.Errorf("timestamp %q", ts)
	case !hmac.Equal([]byte(r.Header.Get("X-Sonevakt-Signature")), []byte(want)):
		h.t.Errorf("signature %q, want %q", r.Header.Get("X-Sonevakt-Signature"), want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs++
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	st := h.status
	if st == 0 {
		st = http.StatusNoContent
	}
	if st < 300 {
		id := r.Header.Get("X-Sonevakt-Delivery")
		h.got[id]++
		h.bodies[id] = body
	}
	w.WriteHeader(st)
}

func newHook(t *testing.T, fail, status int) (*hookReceiver, *httptest.Server, *x509.CertPool) {
	h := &hookReceiver{t: t, secret: []byte("delt hemmelighet"), fail: fail, status: status, got: map[string]int{}, bodies: map[string][]byte{}}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return h, srv, pool
}

func TestWebhookDispatch(t *testing.T) {
	h, srv, pool := newHook(t, 3, 0)
	ws, err := NewWebhookSender(WebhookConfig{Secret: h.secret, RootCAs: pool, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ob := openOutbox(t)
	d := &Dispatcher{Outbox: ob, Senders: map[string]Sender{ChannelWebhook: ws}, Backoff: fastBackoff, Logger: testLogger(t)}
	runDispatcher(t, d)
	m := Message{ID: "AVVIK-2026-2/created/hook:1", Channel: ChannelWebhook, To: srv.URL + "/hook", JSON: []byte(`{"id":"AVVIK-2026-2","title":"Ukjent minnepinne på PC-17"}`)}
	for range 2 { // the second enqueue is ignored
		if err := ob.Enqueue(t.Context(), []Message{m}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	d.Wake()
	p := waitEntry(t, ob, m.ID, func(p Pending) bool { return !p.DeliveredAt.IsZero() })
	if p.Attempts != 4 {
		t.Errorf("attempts = %d, want 4 (three 500s, then 204)", p.Attempts)
	}
	time.Sleep(100 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reqs != 4 || h.got[m.ID] != 1 || len(h.got) != 1 {
		t.Errorf("receiver saw %d requests, deliveries %v; want 4 requests and one delivery", h.reqs, h.got)
	}
	if !bytes.Equal(h.bodies[m.ID], m.JSON) {
		t.Errorf("body = %s, want %s", h.bodies[m.ID], m.JSON)
	}
}

func TestWebhookStatus(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusOK, false},
		{http.StatusBadRequest, true},
		{http.StatusGone, true},
		{http.StatusRequestTimeout, false},
		{http.StatusTooManyRequests, false},
		{http.StatusBadGateway, false},
		{http.StatusFound, false},
	} {
		h, srv, pool := newHook(t, 0, tc.status)
		ws, err := NewWebhookSender(WebhookConfig{Secret: h.secret, RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		err = ws.Send(t.Context(), Message{ID: "x", To: srv.URL, JSON: []byte(`{}`)})
		switch {
		case tc.status == http.StatusOK && err != nil:
			t.Errorf("status %d: Send = %v, want nil", tc.status, err)
		case tc.status != http.StatusOK && err == nil:
			t.Errorf("status %d: Send = nil, want an error", tc.status)
		case errors.Is(err, ErrPermanent) != tc.permanent:
			t.Errorf("status %d: Send = %v, permanent %v, want %v", tc.status, err, errors.Is(err, ErrPermanent), tc.permanent)
		}
	}

	h, srv, _ := newHook(t, 0, 0)
	ws, _ := NewWebhookSender(WebhookConfig{Secret: h.secret})
	if err := ws.Send(t.Context(), Message{ID: "x", To: srv.URL, JSON: []byte(`{}`)}); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("Send(untrusted cert) = %v, want a retryable error", err)
	}
	if err := ws.Send(t.Context(), Message{ID: "x", To: "http://127.0.0.1:1/hook"}); !errors.Is(err, ErrPermanent) {
		t.Errorf("Send(http://) = %v, want ErrPermanent", err)
	}
	if err := ws.Send(t.Context(), Message{ID: "x\r\nX-Evil: 1", To: srv.URL}); !errors.Is(err, ErrPermanent) {
		t.Errorf("Send(id with CRLF) = %v, want ErrPermanent", err)
	}
	if _, err := NewWebhookSender(WebhookConfig{}); err == nil {
		t.Error("NewWebhookSender(no secret) = nil error")
	}
}

func TestSign(t *testing.T) {
	// Receivers in other languages check against this vector.
	got := Sign([]byte("secret"), "1700000000", []byte(`{"a":1}`))
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(`1700000000.{"a":1}`))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		base     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {12, 2048 * time.Second}, {13, time.Hour}, {100, time.Hour}} {
		for range 50 {
			if d := Backoff(tc.attempts); d < tc.base || d > tc.base+tc.base/5 {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", tc.attempts, d, tc.base, tc.base+tc.base/5)
			}
		}
	}
}

func TestWakeNeverBlocks(t *testing.T) {
	d := &Dispatcher{}
	for range 100 {
		d.Wake()
	}
}
