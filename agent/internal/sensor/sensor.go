// Package sensor defines what a sensor is and keeps the registry of sensors.
// Each sensor lives in its own folder below this one and registers itself in
// init; the sensor/all package links them all into the agent.
package sensor

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Sensor observes one aspect of the machine and emits records. Periodic sensors
// loop on a ticker; watchers block on events. Run returns when ctx is done (with
// nil) or when the sensor cannot go on.
type Sensor interface {
	Name() string
	Run(ctx context.Context, emit func(wire.Record)) error
}

// Env is what the agent gives a sensor when it creates it.
type Env struct {
	Logger *slog.Logger
	// Policy returns the policy in force now; sensors read it on every round so
	// that a new policy takes effect without a restart.
	Policy func() wire.Policy
	// StateDir is a folder of the sensor's own (0700) that survives restarts.
	StateDir string
	// LastAck returns the newest ack from the collector (zero before the first).
	LastAck func() wire.Ack
	// LastSeq returns the highest sequence number appended so far: after emit
	// returns, the emitted record's seq is at most this.
	LastSeq func() uint64
	// Collector is the collector's HOST:PORT, so that a sensor can tell the
	// agent's own uplink from what it observes (the traffic sensor does not
	// capture it).
	Collector string
	// Options are the sensor's own settings from the agent config
	// (sensor_options.<name>); a sensor refuses keys it does not know.
	Options map[string]string
	// Pace is the agent's resource guard; nil means none (see Pacer).
	Pace Pace
}

// Pace is the agent's resource guard as a periodic sensor sees it. The
// sensor brackets each round of collection with Begin and the function
// Begin returns (on the same goroutine, without starting goroutines that do
// the round's work), so that the round's CPU time is charged to the sensor,
// and asks Interval for the wait before its next round: the interval it
// would wait, stretched while the guard slows the sensor because it costs
// more than its budget. Watchers that block on events need neither.
type Pace interface {
	Begin() (end func())
	Interval(d time.Duration) time.Duration
}

// Pacer returns e.Pace, or a pace that measures nothing and stretches
// nothing when the agent runs no guard (tests).
func (e Env) Pacer() Pace {
	if e.Pace == nil {
		return noPace{}
	}
	return e.Pace
}

type noPace struct{}

func (noPace) Begin() func()                          { return func() {} }
func (noPace) Interval(d time.Duration) time.Duration { return d }

// Factory creates a sensor.
type Factory func(env Env) (Sensor, error)

// Registration is one registered sensor.
type Registration struct {
	Name           string
	DefaultEnabled bool
	New            Factory
}

var (
	mu       sync.Mutex
	registry = map[string]Registration{}
)

// Register adds a sensor to the registry. It panics on a duplicate name, which is
// a programming error found at start-up.
func Register(name string, defaultEnabled bool, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("sensor %q registered twice", name))
	}
	registry[name] = Registration{Name: name, DefaultEnabled: defaultEnabled, New: f}
}

// All returns every registered sensor, sorted by name.
func All() []Registration {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Registration, 0, len(registry))
	for _, r := range registry {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the registration of the named sensor.
func Lookup(name string) (Registration, bool) {
	mu.Lock()
	defer mu.Unlock()
	r, ok := registry[name]
	return r, ok
}
