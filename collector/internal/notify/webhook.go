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
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook request headers.
const (
	HeaderSignature = "X-Sonevakt-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderTimestamp = "X-Sonevakt-Timestamp" // Unix seconds
	HeaderDelivery  = "X-Sonevakt-Delivery"  // the message's idempotency key
)

// WebhookConfig configures a WebhookSender.
type WebhookConfig struct {
	Secret  []byte         // the HMAC key shared with the receiver
	RootCAs *x509.CertPool // CAs trusted for the receiver's certificate; nil for the system's
	Timeout time.Duration  // for one request; 0 for 30 s
	// AllowHTTP reports whether plain http:// URLs are allowed. False (the
	// default) allows https only: bodies may carry personal data.
	AllowHTTP bool
}

// WebhookSender POSTs a message's JSON to its URL, signed.
type WebhookSender struct {
	cfg    WebhookConfig
	client *http.Client
	now    func() time.Time
}

var _ Sender = (*WebhookSender)(nil)

// NewWebhookSender returns a sender. Redirects are not followed.
func NewWebhookSender(cfg WebhookConfig) (*WebhookSender, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook secret is empty")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	client := &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &WebhookSender{cfg: cfg, client: client, now: time.Now}, nil
}

// Sign returns the X-Sonevakt-Signature value for a body sent at timestamp
// (Unix seconds, as in X-Sonevakt-Timestamp).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the tolerance")
)

// Verify checks a webhook request as a receiver should: signature is the
// X-Sonevakt-Signature value, timestamp the X-Sonevakt-Timestamp value, body
// the raw request body. A timestamp more than tolerance away from now is
// ErrStale (a replayed request); a signature that does not match, in
// constant time, is ErrBadSignature. Receivers drop a redelivery by its
// X-Sonevakt-Delivery key, which Verify does not look at.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrStale, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: %v away from now", ErrStale, d.Round(time.Second))
	}
	if !strings.HasPrefix(signature, "sha256=") ||
		!hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body))) {
		return ErrBadSignature
	}
	return nil
}

// WebhookRouter is the Sender of the webhook channel when several webhooks
// are configured, each with its own secret and CAs: it hands a message to the
// sender of its URL (To). A message for a URL no longer configured fails
// permanently.
type WebhookRouter map[string]Sender

var _ Sender = WebhookRouter(nil)

// Send delivers m through the sender configured for m.To.
func (r WebhookRouter) Send(ctx context.Context, m Message) error {
	s, ok := r[m.To]
	if !ok {
		return Permanent(fmt.Errorf("webhook %s is not configured (any more)", RedactURL(m.To)))
	}
	return s.Send(ctx, m)
}

// RedactURL returns a webhook URL fit for logs and timelines: scheme, host
// and path, without user information, query or fragment, which may hold
// tokens.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Send delivers m (Channel webhook; To is the URL). A 2xx reply is success;
// any other 4xx than 408 and 429 is a permanent failure; the rest is retried.
func (s *WebhookSender) Send(ctx context.Context, m Message) error {
	if err := checkHeader(m.ID); err != nil {
		return Permanent(fmt.Errorf("webhook delivery id: %w", err))
	}
	u, err := url.Parse(m.To)
	if err != nil {
		return Permanent(fmt.Errorf("webhook url: %w", err))
	}
	if u.Scheme != "https" && !(s.cfg.AllowHTTP && u.Scheme == "http") {
		return Permanent(fmt.Errorf("webhook url %s: scheme must be https", RedactURL(m.To)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.To, bytes.NewReader(m.JSON))
	if err != nil {
		return Permanent(fmt.Errorf("webhook request: %w", err))
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sonevakt-collector")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, ts, m.JSON))
	req.Header.Set(HeaderDelivery, m.ID)
	resp, err := s.client.Do(req)
	if err != nil {
		// The *url.Error repeats the full URL, query and all.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("post webhook %s: %w", RedactURL(m.To), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return Permanent(fmt.Errorf("post webhook %s: %s", RedactURL(m.To), resp.Status))
	default:
		return fmt.Errorf("post webhook %s: %s", RedactURL(m.To), resp.Status)
	}
}
