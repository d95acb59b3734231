// Package config loads and validates the agent's configuration file (YAML):
// defaults first, then the file, then validation that names the file and line
// of every problem. Unknown keys are refused.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the agent's configuration.
type Config struct {
	// DataDir holds identity, spool and last policy. Flags override it.
	DataDir string `yaml:"data_dir"`
	// Collector overrides the HOST:PORT the agent enrolled with.
	Collector string `yaml:"collector"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	Spool    Spool  `yaml:"spool"`
	// Sensors enables or disables sensors by name; unnamed ones keep their default.
	Sensors map[string]bool `yaml:"sensors"`
	// SensorOptions are per-sensor settings (sensor name -> key -> value);
	// each sensor documents and checks its own keys.
	SensorOptions map[string]map[string]string `yaml:"sensor_options"`
	// Intervals override the collector's policy, for labs and tests.
	Intervals Intervals `yaml:"intervals"`
}

// Spool bounds the outbox.
type Spool struct {
	MaxBytes int64 `yaml:"max_bytes"`
}

// Intervals override policy intervals when non-zero.
type Intervals struct {
	Health    time.Duration `yaml:"health"`
	Inventory time.Duration `yaml:"inventory"`
}

// Default returns the configuration used without a file.
func Default() Config {
	return Config{LogLevel: "info", Spool: Spool{MaxBytes: 256 << 20}}
}

// Load reads a YAML file over the defaults and validates it.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	if err := Parse(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML into c (over whatever c holds) and validates the result.
func Parse(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return c.Validate()
}

// Validate checks values that YAML types cannot.
func (c Config) Validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Spool.MaxBytes < 1<<20 {
		return fmt.Errorf("spool.max_bytes %d: want at least 1 MiB", c.Spool.MaxBytes)
	}
	if c.Intervals.Health < 0 || (c.Intervals.Health > 0 && c.Intervals.Health < 50*time.Millisecond) {
		return fmt.Errorf("intervals.health %v: want 0 (policy) or at least 50ms", c.Intervals.Health)
	}
	if c.Intervals.Inventory < 0 || (c.Intervals.Inventory > 0 && c.Intervals.Inventory < time.Second) {
		return fmt.Errorf("intervals.inventory %v: want 0 (policy) or at least 1s", c.Intervals.Inventory)
	}
	return nil
}
