package e2e

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sonevakt/sonevakt/pkg/pki"
)

// mailbox is a real SMTP receiver (STARTTLS, AUTH PLAIN as sonevakt/pw) that
// keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	msgs []string // "to\n\ndata"
}

func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{b: b}, nil }

func (b *mailbox) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

type mailboxSession struct {
	b      *mailbox
	authed bool
	to     []string
}

func (s *mailboxSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailboxSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "sonevakt" || pass != "pw" {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *mailboxSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, strings.Join(s.to, ",")+"\n\n"+string(b))
	return nil
}
func (s *mailboxSession) Reset()        { s.to = nil }
func (s *mailboxSession) Logout() error { return nil }

// startMailbox starts a real SMTP server on loopback with STARTTLS (a
// certificate from a CA of its own, written to caFile) and AUTH PLAIN as
// sonevakt with the password in pwFile, until the test ends.
func startMailbox(t testing.TB, dir string) (box *mailbox, addr, caFile, pwFile string) {
	t.Helper()
	ca, err := pki.NewCA("mail test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, key, err := ca.ServerCert([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "mail-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile = filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	box = &mailbox{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return box, l.Addr().String(), caFile, pwFile
}

// TestDeviationMailedToSecurityOfficer: a new deviation reaches the
// information security officer by e-mail through a real SMTP server with
// STARTTLS and AUTH, once, in Norwegian, with its id and breach deadline.
func TestDeviationMailedToSecurityOfficer(t *testing.T) {
	needRoot(t, "losetup", "mkfs.vfat")
	dir := t.TempDir()
	box, addr, caFile, pwFile := startMailbox(t, dir)

	c := newCollector(t)
	conf := filepath.Join(dir, "collector.yaml")
	body := fmt.Sprintf(`data_dir: %s
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
`, c.data, addr, pwFile, caFile)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = append(c.args, "--config", conf)
	c.start()
	mediaAgent(t, c)
	img := stickImage(t, dir, "mail.img", "PRIVAT")
	attach(t, img)
	dv := c.waitDeviation("unknown-media", img, 10*time.Second)

	deadline := time.Now().Add(15 * time.Second)
	for {
		var mine []string
		for _, m := range box.all() {
			if strings.Contains(m, dv.ID) {
				mine = append(mine, m)
			}
		}
		if len(mine) == 1 {
			head, qp, _ := strings.Cut(mine[0], "\r\n\r\n")
			text, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(qp)))
			if err != nil {
				t.Fatalf("body is not quoted-printable: %v", err)
			}
			m := head + "\n\n" + string(text)
			for _, want := range []string{"To: <isa@kommune.example>", "Subject: [Sonevakt] Nytt avvik " + dv.ID, "Sonevakt har åpnet et avvik",
				"https://sonevakt.example:8443/deviations/" + dv.ID, "Alvorlighet:", "S1.3, S6.1"} {
				if !strings.Contains(m, want) {
					t.Errorf("mail for %s lacks %q:\n%s", dv.ID, want, m)
				}
			}
			break
		}
		if len(mine) > 1 || time.Now().After(deadline) {
			t.Fatalf("%d mails for %s (want 1); mailbox: %q", len(mine), dv.ID, box.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
