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
	// Uplink tunes the connection to the collector.
	Uplink Uplink `yaml:"uplink"`
	// Guard holds the agent's own resource budgets.
	Guard Guard `yaml:"guard"`
}

// Guard holds the budgets of the agent's resource guard: a sensor that costs
// more than its share is slowed (its interval stretched) and reported in
// health records; the agent never kills or restarts itself over a budget.
type Guard struct {
	// CPUPercent is the agent's CPU budget in percent of one core, averaged
	// over Window; 0 turns the CPU guard off.
	CPUPercent float64 `yaml:"cpu_percent"`
	// SensorCPUPercent is one sensor's budget; 0 means CPUPercent.
	SensorCPUPercent float64 `yaml:"sensor_cpu_percent"`
	// MemoryMB is the agent's budget for its resident memory (RSS) in MiB;
	// 0 turns the memory guard off.
	MemoryMB int `yaml:"memory_mb"`
	// Window is the time over which CPU is averaged and between two checks.
	Window time.Duration `yaml:"window"`
	// MaxSlowdown caps the factor a sensor's interval is stretched by; 1
	// reports overruns without slowing anything.
	MaxSlowdown int `yaml:"max_slowdown"`
}

// Uplink tunes the connection to the collector; zero values take the
// defaults (auto, 4s, 5m).
type Uplink struct {
	// Transport is auto (QUIC, TLS over TCP on the same port where UDP is
	// blocked), quic or tcp.
	Transport string `yaml:"transport"`
	// QUICTimeout is how long a QUIC handshake may go unanswered before the
	// agent falls back to TCP.
	QUICTimeout time.Duration `yaml:"quic_timeout"`
	// QUICProbe is how often the agent tries QUIC again while on TCP.
	QUICProbe time.Duration `yaml:"quic_probe"`
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
	return Config{LogLevel: "info", Spool: Spool{MaxBytes: 256 << 20},
		Guard: Guard{CPUPercent: 5, MemoryMB: 150, Window: time.Minute, MaxSlowdown: 16}}
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
	switch c.Uplink.Transport {
	case "", "auto", "quic", "tcp":
	default:
		return fmt.Errorf("uplink.transport %q: want auto, quic or tcp", c.Uplink.Transport)
	}
	if c.Uplink.QUICTimeout < 0 || (c.Uplink.QUICTimeout > 0 && c.Uplink.QUICTimeout < 100*time.Millisecond) || c.Uplink.QUICTimeout > time.Minute {
		return fmt.Errorf("uplink.quic_timeout %v: want 0 (default 4s) or 100ms to 1m", c.Uplink.QUICTimeout)
	}
	if c.Uplink.QUICProbe < 0 || (c.Uplink.QUICProbe > 0 && c.Uplink.QUICProbe < time.Second) || c.Uplink.QUICProbe > 24*time.Hour {
		return fmt.Errorf("uplink.quic_probe %v: want 0 (default 5m) or 1s to 24h", c.Uplink.QUICProbe)
	}
	g := c.Guard
	if g.CPUPercent < 0 || g.CPUPercent > 6400 {
		return fmt.Errorf("guard.cpu_percent %v: want 0 (off) to 6400 (percent of one core)", g.CPUPercent)
	}
	if g.SensorCPUPercent < 0 || g.SensorCPUPercent > 6400 {
		return fmt.Errorf("guard.sensor_cpu_percent %v: want 0 (same as cpu_percent) to 6400", g.SensorCPUPercent)
	}
	if g.MemoryMB != 0 && (g.MemoryMB < 16 || g.MemoryMB > 1<<20) {
		return fmt.Errorf("guard.memory_mb %d: want 0 (off) or 16 to 1048576 MiB", g.MemoryMB)
	}
	if g.Window < time.Second || g.Window > time.Hour {
		return fmt.Errorf("guard.window %v: want 1s to 1h", g.Window)
	}
	if g.MaxSlowdown < 1 || g.MaxSlowdown > 1024 {
		return fmt.Errorf("guard.max_slowdown %d: want 1 (never slow) to 1024", g.MaxSlowdown)
	}
	return nil
}
