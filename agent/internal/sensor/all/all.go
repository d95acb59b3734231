// Package all links every sensor into the agent binary.
package all

import (
	_ "github.com/sonevakt/sonevakt/agent/internal/sensor/inventory"
	_ "github.com/sonevakt/sonevakt/agent/internal/sensor/media"
	_ "github.com/sonevakt/sonevakt/agent/internal/sensor/sockets"
	_ "github.com/sonevakt/sonevakt/agent/internal/sensor/traffic"
)
