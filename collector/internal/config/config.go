// Package config loads and validates the collector's configuration file (YAML):
// defaults, then the file, then flags set by the command; every problem is named
// with the file and line. Unknown keys are refused.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
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
	return nil
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
