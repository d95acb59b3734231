package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// ErrNoTLS is returned when the mail server does not offer STARTTLS and the
// configuration does not allow sending in clear text. It is retried: a
// missing STARTTLS may be an attacker stripping it.
var ErrNoTLS = errors.New("mail server does not offer STARTTLS")

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	Addr     string // host:port of the submission server
	From     string // "Sonevakt <sonevakt@kommune.no>" or a bare address
	Username string // "" to send without AUTH
	Password string
	// AllowNoTLS reports whether a message may go in clear text to a server
	// that does not offer STARTTLS. False (the default) refuses; credentials
	// are never sent in clear text except to localhost.
	AllowNoTLS bool
	RootCAs    *x509.CertPool // CAs trusted for the server's certificate; nil for the system's
	Timeout    time.Duration  // for one whole delivery; 0 for 30 s
	HelloName  string         // the EHLO name; "" for "localhost"
}

// SMTPSender sends e-mail through one submission server, one connection per
// message.
type SMTPSender struct {
	cfg  SMTPConfig
	host string
	from *mail.Address
	now  func() time.Time
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender checks cfg and returns a sender.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", cfg.Addr, err)
	}
	if err := checkHeader(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp from: %w", err)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp from %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	return &SMTPSender{cfg: cfg, host: host, from: from, now: time.Now}, nil
}

// checkHeader rejects a header value that could inject header lines.
func checkHeader(v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("header value %q contains a line break", v)
	}
	return nil
}

// Send delivers m (Channel email; To is the recipient address).
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	for _, v := range []string{m.To, m.Subject} {
		if err := checkHeader(v); err != nil {
			return Permanent(err)
		}
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return Permanent(fmt.Errorf("recipient %q: %w", m.To, err))
	}
	body, err := s.compose(m, to)
	if err != nil {
		return Permanent(err)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("smtp greeting from %s: %w", s.cfg.Addr, err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := &tls.Config{ServerName: s.host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	} else if !s.cfg.AllowNoTLS {
		return fmt.Errorf("smtp %s: %w", s.cfg.Addr, ErrNoTLS)
	}
	if s.cfg.Username != "" {
		// PlainAuth itself refuses to send the password without TLS except
		// to localhost.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return classify("smtp mail from", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return classify("smtp rcpt to", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("smtp data", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify("smtp data", err)
	}
	// The message is accepted; a failing QUIT does not change that.
	_ = c.Quit()
	return nil
}

// classify marks a 5xx reply to MAIL, RCPT or DATA as permanent.
func classify(what string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return Permanent(fmt.Errorf("%s: %w", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// compose renders m as an RFC 5322 message: UTF-8 text in quoted-printable,
// the subject RFC 2047-encoded, and a Message-ID derived from the idempotency
// key so that a redelivery carries the same one.
func (s *SMTPSender) compose(m Message, to *mail.Address) ([]byte, error) {
	var b bytes.Buffer
	domain := "sonevakt.invalid"
	if _, d, ok := strings.Cut(s.from.Address, "@"); ok && d != "" {
		domain = d
	}
	sum := sha256.Sum256([]byte(m.ID))
	hdr := [][2]string{
		{"From", s.from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", s.now().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
		{"Auto-Submitted", "auto-generated"},
	}
	if m.Lang != "" {
		hdr = append(hdr, [2]string{"Content-Language", m.Lang})
	}
	for _, h := range hdr {
		if err := checkHeader(h[1]); err != nil {
			return nil, fmt.Errorf("%s: %w", h[0], err)
		}
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(m.Text, "\r\n", "\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}
