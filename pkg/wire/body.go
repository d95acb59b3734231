package wire

// Hello is the body of a hello record and of the first frame on a control stream.
type Hello struct {
	Version       int    `cbor:"1,keyasint"`           // protocol version
	AgentVersion  string `cbor:"2,keyasint"`           // buildinfo version of the agent
	Hostname      string `cbor:"3,keyasint"`           // as the OS reports it
	OS            string `cbor:"4,keyasint"`           // GOOS
	Arch          string `cbor:"5,keyasint"`           // GOARCH
	Fingerprint   string `cbor:"6,keyasint,omitempty"` // hardware fingerprint, hex SHA-256
	PolicyVersion uint64 `cbor:"7,keyasint,omitempty"` // last policy the agent holds
	BootTime      int64  `cbor:"8,keyasint,omitempty"` // Unix seconds
}

// Health is the body of a health record: the agent's own state.
type Health struct {
	AgentVersion  string         `cbor:"1,keyasint"`
	RSSBytes      uint64         `cbor:"2,keyasint"`
	CPUPercent    float64        `cbor:"3,keyasint"` // of one core, since the last health record
	SpoolRecords  uint64         `cbor:"4,keyasint"`
	SpoolBytes    uint64         `cbor:"5,keyasint"`
	SpoolDropped  uint64         `cbor:"6,keyasint"` // records dropped over the agent's lifetime
	Uptime        int64          `cbor:"7,keyasint"` // seconds since the agent started
	Sensors       []SensorStatus `cbor:"8,keyasint,omitempty"`
	PolicyVersion uint64         `cbor:"9,keyasint,omitempty"`
	// The resource guard's view (agent config "guard"): budgets, the Go heap,
	// and what was over budget in the guard's last window ("cpu", "memory").
	CPUBudget    float64  `cbor:"10,keyasint,omitempty"` // percent of one core; 0 = none
	MemoryBudget uint64   `cbor:"11,keyasint,omitempty"` // RSS bytes; 0 = none
	HeapBytes    uint64   `cbor:"12,keyasint,omitempty"` // live Go heap objects
	OverBudget   []string `cbor:"13,keyasint,omitempty"`
	// Transport is how the agent reaches the collector right now: "quic", or
	// "tcp" (the TLS fallback where UDP is blocked); empty while offline.
	Transport string `cbor:"14,keyasint,omitempty"`
}

// SensorStatus is one sensor's state inside Health.
type SensorStatus struct {
	Name    string `cbor:"1,keyasint"`
	State   string `cbor:"2,keyasint"` // running, throttled, stopped, failed, unsupported
	Error   string `cbor:"3,keyasint,omitempty"`
	Records uint64 `cbor:"4,keyasint,omitempty"`
	// Slowdown is the factor the resource guard stretches a throttled
	// sensor's interval by, and Reason says why (which budget, how far over).
	Slowdown int    `cbor:"5,keyasint,omitempty"`
	Reason   string `cbor:"6,keyasint,omitempty"`
	// CPUPercent is the CPU its rounds took in the guard's last window, in
	// percent of one core (sensors that run in rounds only).
	CPUPercent float64 `cbor:"7,keyasint,omitempty"`
}

// Host holds the facts about one machine.
type Host struct {
	Hostname        string      `cbor:"1,keyasint" json:"hostname"`
	Domain          string      `cbor:"2,keyasint,omitempty" json:"domain,omitempty"`
	OS              string      `cbor:"3,keyasint" json:"os"`                 // linux, windows
	Platform        string      `cbor:"4,keyasint,omitempty" json:"platform"` // debian, Microsoft Windows 11 Pro …
	PlatformVersion string      `cbor:"5,keyasint,omitempty" json:"platform_version"`
	Kernel          string      `cbor:"6,keyasint,omitempty" json:"kernel"`
	Arch            string      `cbor:"7,keyasint,omitempty" json:"arch"`
	BootTime        int64       `cbor:"8,keyasint,omitempty" json:"boot_time"` // Unix seconds
	Virtualization  string      `cbor:"9,keyasint,omitempty" json:"virtualization,omitempty"`
	MachineID       string      `cbor:"10,keyasint,omitempty" json:"machine_id,omitempty"`
	CPU             CPU         `cbor:"11,keyasint" json:"cpu"`
	MemoryBytes     uint64      `cbor:"12,keyasint" json:"memory_bytes"`
	Interfaces      []Interface `cbor:"13,keyasint,omitempty" json:"interfaces"`
}

// CPU describes the processors.
type CPU struct {
	Model   string `cbor:"1,keyasint" json:"model"`
	Cores   int    `cbor:"2,keyasint" json:"cores"`
	Threads int    `cbor:"3,keyasint" json:"threads"`
}

// Interface is one network interface.
type Interface struct {
	Name  string   `cbor:"1,keyasint" json:"name"`
	MAC   string   `cbor:"2,keyasint,omitempty" json:"mac,omitempty"` // lower case, colon separated
	Addrs []string `cbor:"3,keyasint,omitempty" json:"addrs,omitempty"`
	Up    bool     `cbor:"4,keyasint" json:"up"`
	MTU   int      `cbor:"5,keyasint,omitempty" json:"mtu,omitempty"`
}
