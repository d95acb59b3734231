// Package config loads and validates the collector's configuration file (YAML):
// defaults, then the file, then flags set by the command; every problem is named
// with the file and line. Unknown keys are refused.
package config

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sonevakt/sonevakt/collector/internal/notify"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Config is the collector's configuration.
type Config struct {
	DataDir    string `yaml:"data_dir"`
	AgentsAddr string `yaml:"agents_addr"` // UDP (QUIC) for agents
	WebAddr    string `yaml:"web_addr"`    // HTTPS UI and API
	// Store is a DSN: sqlite:/path/file.db (default: sonevakt.db in DataDir) or
	// postgres://…
	Store string `yaml:"store"`
	// Names are extra DNS names and addresses for the collector's certificates.
	Names []string `yaml:"names"`
	// WebCert and WebKey are an operator-provided certificate for the UI; when
	// empty the collector's own CA issues one.
	WebCert  string `yaml:"web_cert"`
	WebKey   string `yaml:"web_key"`
	LogLevel string `yaml:"log_level"`
	// AgentCertTTL is the lifetime of agent certificates; agents renew them
	// over mTLS after two thirds of it. Default 90 days.
	AgentCertTTL time.Duration `yaml:"agent_cert_ttl"`
	// EnrollBurst and EnrollRate bound enrollment attempts per source address
	// (a token bucket); raise them for a rollout behind one NAT address.
	// Defaults 50 and 20 per second.
	EnrollBurst float64 `yaml:"enroll_burst"`
	EnrollRate  float64 `yaml:"enroll_rate"`

	// Media says how agents judge and mark removable media; the register's
	// media are added as the allow-list.
	Media Media `yaml:"media"`
	// ZonesFile is the zones file: the network zones (S5.1) hosts and flows
	// are placed in by address, and the firewall map (S5.3) flows are judged
	// by (see pkg/zone and configs/zones.yaml). A relative path is taken from
	// the configuration file's folder. Empty: no zones.
	ZonesFile string `yaml:"zones_file"`
	// Software says how the software catalogue judges installed packages.
	Software Software `yaml:"software"`
	// ConfigMap tunes the configuration map.
	ConfigMap ConfigMap `yaml:"configmap"`
	// Rules turns rules of the catalogue off or changes their severity, by
	// rule name.
	Rules map[string]Rule `yaml:"rules"`
	// Deviations tunes deviation handling.
	Deviations Deviations `yaml:"deviations"`
	// Notify says how deviations reach people.
	Notify Notify `yaml:"notify"`
}

// Notify is the notify section: the mail server and who is told.
type Notify struct {
	SMTP SMTP `yaml:"smtp"`
	// SecurityOfficer is the information security officer, who is told of
	// every new deviation.
	SecurityOfficer Recipient `yaml:"security_officer"`
	// UIURL is the UI's address as people reach it, for links in messages
	// ("https://sonevakt.kommune.no:8443").
	UIURL string `yaml:"ui_url"`
	// Webhooks are told of every new deviation by a signed HTTPS POST.
	Webhooks []Webhook `yaml:"webhooks"`
}

// Webhook is one receiver of signed webhook POSTs (see docs/operations.md).
type Webhook struct {
	// URL is where events are POSTed: https, or http on a loopback host only.
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key shared with the receiver (at least
	// 16 bytes; a trailing line break is not part of it). It must not be
	// readable by group or others.
	SecretFile string `yaml:"secret_file"`
	// Events are the events sent (see notify.Events); empty for all.
	Events []string `yaml:"events"`
	// CAFile holds PEM CAs trusted for the receiver's certificate; "" for the
	// system's.
	CAFile string `yaml:"ca_file"`
	// Lang is the language of the summary in the body: nb (default) or en.
	Lang string `yaml:"lang"`
}

// minWebhookSecret is the shortest HMAC key accepted, in bytes.
const minWebhookSecret = 16

// Secret reads the webhook's HMAC key from SecretFile, refusing a file that
// group or others may read (except on Windows, where modes say nothing) and
// a key shorter than 16 bytes.
func (w Webhook) Secret() ([]byte, error) {
	if w.SecretFile == "" {
		return nil, errors.New("secret_file is empty: the HMAC key is required")
	}
	fi, err := os.Stat(w.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("secret_file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret_file %s: mode %v lets group or others read the key; chmod 600 it", w.SecretFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(w.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("secret_file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < minWebhookSecret {
		return nil, fmt.Errorf("secret_file %s: the key has %d bytes, want at least %d", w.SecretFile, len(b), minWebhookSecret)
	}
	return b, nil
}

// Wants reports whether the webhook is sent event.
func (w Webhook) Wants(event string) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, event)
}

// LoopbackHTTP reports whether the webhook's URL is plain http to a loopback
// host, the only http allowed.
func (w Webhook) LoopbackHTTP() bool {
	u, err := url.Parse(w.URL)
	return err == nil && u.Scheme == "http" && isLoopback(u.Hostname())
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (w Webhook) validate(key string) error {
	u, err := url.Parse(w.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s.url %q: want an https:// URL", key, w.URL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%s.url %q: plain http is allowed to a loopback host only; use https", key, w.URL)
	}
	if u.User != nil {
		return fmt.Errorf("%s.url: put no user or password in the URL; the signature authenticates", key)
	}
	if _, err := w.Secret(); err != nil {
		return fmt.Errorf("%s.%w", key, err)
	}
	for _, e := range w.Events {
		if !slices.Contains(notify.Events, e) {
			return fmt.Errorf("%s.events: unknown event %q; known events are %s", key, e, strings.Join(notify.Events, ", "))
		}
	}
	if w.CAFile != "" {
		pem, err := os.ReadFile(w.CAFile)
		if err != nil {
			return fmt.Errorf("%s.ca_file: %w", key, err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s.ca_file %s: no PEM certificate in it", key, w.CAFile)
		}
	}
	switch w.Lang {
	case "", "nb", "en":
	default:
		return fmt.Errorf("%s.lang %q: want nb or en", key, w.Lang)
	}
	return nil
}

// SMTP is the submission server deviations are mailed through.
type SMTP struct {
	Addr         string `yaml:"addr"` // host:port; "" sends no e-mail
	From         string `yaml:"from"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"` // a file holding the password (keep it 0600)
	CAFile       string `yaml:"ca_file"`       // PEM CAs for the server's certificate; "" for the system's
	AllowNoTLS   bool   `yaml:"allow_no_tls"`  // send without STARTTLS (never do this off localhost)
}

// Recipient is one person told of deviations.
type Recipient struct {
	Email string `yaml:"email"`
	Lang  string `yaml:"lang"` // nb (default) or en
}

// Media is the media section: the media policy pushed to agents.
type Media struct {
	Mode           string `yaml:"mode"`          // audit (default) or block
	LabelPattern   string `yaml:"label_pattern"` // volume labels that mark municipal media, "NK-*"
	MarkerFile     string `yaml:"marker_file"`   // marker file at a volume's root, "SONEVAKT.TXT"
	EnforceOptical bool   `yaml:"enforce_optical"`
}

// Software is the software section.
type Software struct {
	// Mode is "denylist" (the default: only denied entries of the catalogue
	// open deviations) or "allowlist" (everything the catalogue does not
	// approve does, and denied entries always).
	Mode string `yaml:"mode"`
}

// ConfigMap is the configmap section.
type ConfigMap struct {
	// SilentAfter is how long a registered host's agent may stay quiet
	// before the map calls it silent and agent-silent fires; default 3h.
	SilentAfter time.Duration `yaml:"silent_after"`
}

// SilentAfter returns the configured silence bound; 0 for the default.
func (c Config) SilentAfter() time.Duration { return c.ConfigMap.SilentAfter }

// Rule is one entry of the rules section.
type Rule struct {
	Enabled  *bool  `yaml:"enabled"`  // default true
	Severity string `yaml:"severity"` // default: the catalogue's
}

// Deviations is the deviations section.
type Deviations struct {
	// Due is the time to handle a deviation, by severity (critical, high,
	// medium, low): a Go duration ("72h") or a number of days ("14d").
	Due map[string]string `yaml:"due"`
}

// Default returns the configuration used without a file.
func Default() Config {
	return Config{AgentsAddr: ":7443", WebAddr: ":8443", LogLevel: "info"}
}

// Load reads a YAML file over c and validates the result.
func Load(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if c.ZonesFile != "" && !filepath.IsAbs(c.ZonesFile) {
		c.ZonesFile = filepath.Join(filepath.Dir(path), c.ZonesFile)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Validate checks values that YAML types cannot.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir is empty")
	}
	for _, a := range []struct{ key, v string }{{"agents_addr", c.AgentsAddr}, {"web_addr", c.WebAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%s %q: want HOST:PORT or :PORT", a.key, a.v)
		}
	}
	if (c.WebCert == "") != (c.WebKey == "") {
		return errors.New("web_cert and web_key go together")
	}
	if c.AgentCertTTL != 0 && c.AgentCertTTL < 5*time.Second {
		return fmt.Errorf("agent_cert_ttl %v: want at least 5s (90 days when unset)", c.AgentCertTTL)
	}
	if c.EnrollBurst < 0 || c.EnrollRate < 0 || (c.EnrollBurst == 0) != (c.EnrollRate == 0) {
		return fmt.Errorf("enroll_burst %v and enroll_rate %v: set both to positive values, or neither", c.EnrollBurst, c.EnrollRate)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	for _, m := range []struct {
		key string
		p   wire.MediaPolicy
	}{
		{"media.mode", wire.MediaPolicy{Mode: c.Media.Mode}},
		{"media.label_pattern", wire.MediaPolicy{LabelPattern: c.Media.LabelPattern}},
		{"media.marker_file", wire.MediaPolicy{MarkerFile: c.Media.MarkerFile}},
	} {
		if err := m.p.Validate(); err != nil {
			return fmt.Errorf("%s: %w", m.key, err)
		}
	}
	if _, err := c.ZoneMap(); err != nil {
		return err
	}
	if !rules.ValidSoftwareMode(c.Software.Mode) {
		return fmt.Errorf("software.mode %q: want %s or %s", c.Software.Mode, rules.SoftwareDenylist, rules.SoftwareAllowlist)
	}
	if c.ConfigMap.SilentAfter < 0 || (c.ConfigMap.SilentAfter > 0 && c.ConfigMap.SilentAfter < time.Minute) {
		return fmt.Errorf("configmap.silent_after %v: want at least 1m (3h when unset)", c.ConfigMap.SilentAfter)
	}
	if _, err := c.RuleConfig(); err != nil {
		return err
	}
	if _, err := c.DeviationDue(); err != nil {
		return err
	}
	return c.Notify.validate()
}

func (n Notify) validate() error {
	if n.SMTP.Addr != "" {
		if _, _, err := net.SplitHostPort(n.SMTP.Addr); err != nil {
			return fmt.Errorf("notify.smtp.addr %q: want HOST:PORT", n.SMTP.Addr)
		}
		if n.SMTP.From == "" {
			return errors.New("notify.smtp.from is empty: set the sender address")
		}
		if _, err := mail.ParseAddress(n.SMTP.From); err != nil {
			return fmt.Errorf("notify.smtp.from %q: %v", n.SMTP.From, err)
		}
	}
	if n.SecurityOfficer.Email != "" {
		if _, err := mail.ParseAddress(n.SecurityOfficer.Email); err != nil {
			return fmt.Errorf("notify.security_officer.email %q: %v", n.SecurityOfficer.Email, err)
		}
		if n.SMTP.Addr == "" {
			return errors.New("notify.security_officer.email is set but notify.smtp.addr is not: no way to send")
		}
	}
	switch n.SecurityOfficer.Lang {
	case "", "nb", "en":
	default:
		return fmt.Errorf("notify.security_officer.lang %q: want nb or en", n.SecurityOfficer.Lang)
	}
	seen := map[string]int{}
	for i, w := range n.Webhooks {
		key := fmt.Sprintf("notify.webhooks[%d]", i)
		if err := w.validate(key); err != nil {
			return err
		}
		if j, dup := seen[w.URL]; dup {
			return fmt.Errorf("%s.url %q: the same as notify.webhooks[%d]", key, w.URL, j)
		}
		seen[w.URL] = i
	}
	return nil
}

// MediaPolicy returns the media policy of the media section, without the
// register's allow-list.
func (c Config) MediaPolicy() wire.MediaPolicy {
	return wire.MediaPolicy{Mode: c.Media.Mode, LabelPattern: c.Media.LabelPattern,
		MarkerFile: c.Media.MarkerFile, EnforceOptical: c.Media.EnforceOptical}
}

// ZoneMap loads the zones file: the zone table and the firewall map; nil
// when no zones file is configured. Errors name the file and line.
func (c Config) ZoneMap() (*zone.Map, error) {
	if c.ZonesFile == "" {
		return nil, nil
	}
	m, err := zone.Load(c.ZonesFile)
	if err != nil {
		return nil, fmt.Errorf("zones_file: %w", err)
	}
	return m, nil
}

// RuleConfig returns the rules section as the rules take it.
func (c Config) RuleConfig() (rules.Config, error) {
	rc := make(rules.Config, len(c.Rules))
	for _, name := range slices.Sorted(maps.Keys(c.Rules)) {
		r := c.Rules[name]
		if _, ok := rules.Lookup(name); !ok {
			return nil, fmt.Errorf("rules.%s: unknown rule; known rules are %s", name, strings.Join(rules.Names(), ", "))
		}
		if r.Severity != "" && !rules.ValidSeverity(r.Severity) {
			return nil, fmt.Errorf("rules.%s.severity %q: want %s", name, r.Severity, strings.Join(rules.Severities, ", "))
		}
		rc[name] = rules.Setting{Disabled: r.Enabled != nil && !*r.Enabled, Severity: r.Severity}
	}
	return rc, nil
}

// DeviationDue returns the due times of the deviations section, by severity;
// severities it does not name keep their defaults.
func (c Config) DeviationDue() (map[string]time.Duration, error) {
	due := make(map[string]time.Duration, len(c.Deviations.Due))
	for _, sev := range slices.Sorted(maps.Keys(c.Deviations.Due)) {
		s := c.Deviations.Due[sev]
		if !rules.ValidSeverity(sev) {
			return nil, fmt.Errorf("deviations.due.%s: unknown severity; want %s", sev, strings.Join(rules.Severities, ", "))
		}
		d, err := parseDays(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("deviations.due.%s %q: want a positive duration such as 72h or 14d", sev, s)
		}
		due[sev] = d
	}
	return due, nil
}

// parseDays reads a Go duration, or a whole number of days with the suffix d.
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 3650 {
			return 0, fmt.Errorf("days %q", n)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// StoreDSN returns the store DSN, defaulting to SQLite in the data dir.
func (c Config) StoreDSN() string {
	if c.Store != "" {
		return c.Store
	}
	return "sqlite:" + filepath.Join(c.DataDir, "sonevakt.db")
}

// CADir is where the collector's CA lives.
func (c Config) CADir() string { return filepath.Join(c.DataDir, "ca") }
