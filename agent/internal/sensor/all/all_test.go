package all

import (
	"testing"

	"github.com/sonevakt/sonevakt/agent/internal/config"
	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestExampleConfigOptions: every sensor the example configuration names
// exists, and accepts the options the example gives it, so the documented
// file is one an operator can copy.
func TestExampleConfigOptions(t *testing.T) {
	c, err := config.Load("../../../../configs/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name := range c.Sensors {
		if _, ok := sensor.Lookup(name); !ok {
			t.Errorf("configs/agent.yaml: sensors.%s: no such sensor", name)
		}
	}
	for name, opts := range c.SensorOptions {
		reg, ok := sensor.Lookup(name)
		if !ok {
			t.Errorf("configs/agent.yaml: sensor_options.%s: no such sensor", name)
			continue
		}
		env := sensor.Env{Options: opts, StateDir: t.TempDir(), Policy: func() wire.Policy { return wire.Policy{} },
			LastAck: func() wire.Ack { return wire.Ack{} }, LastSeq: func() uint64 { return 0 }}
		if _, err := reg.New(env); err != nil {
			t.Errorf("configs/agent.yaml: sensor_options.%s: %v", name, err)
		}
	}
	for _, reg := range sensor.All() {
		if _, ok := c.Sensors[reg.Name]; !ok {
			t.Errorf("configs/agent.yaml: sensor %q is not documented under sensors", reg.Name)
		}
	}
}
