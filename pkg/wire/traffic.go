package wire

// Flow protocols, as flows and firewall rules name them.
const (
	ProtoTCP    = "tcp"
	ProtoUDP    = "udp"
	ProtoICMP   = "icmp"
	ProtoICMPv6 = "icmpv6"
)

// Flow verdicts against the firewall map.
const (
	VerdictAllowed = "allowed" // a firewall rule allows it (Flow.Rule names it)
	VerdictDenied  = "denied"  // no rule allows it
	VerdictNoMap   = "no-map"  // the agent holds no firewall map to judge by
)

// Flows is the body of a KindFlows record: what crossed between zones during
// one interval, seen by one source on one host. Flows inside one zone are
// only counted, per zone.
type Flows struct {
	Start  int64  `cbor:"1,keyasint" json:"start"` // Unix nanoseconds
	End    int64  `cbor:"2,keyasint" json:"end"`
	Source string `cbor:"3,keyasint" json:"source"` // "capture:eth0", "pcap:FILE", "sockets"
	// Flows are the cross-zone flows active during the interval, each with
	// the packets and bytes of the interval only.
	Flows []Flow `cbor:"4,keyasint,omitempty" json:"flows,omitempty"`
	// Zones counts traffic that stayed inside one zone.
	Zones []ZoneCount  `cbor:"5,keyasint,omitempty" json:"zones,omitempty"`
	Stats CaptureStats `cbor:"6,keyasint" json:"stats"`
	// ZonesVersion is the version of the policy whose zones classified the
	// flows (0 when the agent had none).
	ZonesVersion uint64 `cbor:"7,keyasint,omitempty" json:"zones_version,omitempty"`
}

// Flow is one flow, both directions merged: Src is the side that opened it
// (the TCP SYN's sender; for other protocols the best guess, see the sensor),
// Dst the side it was opened to, so DPort is the service's port.
type Flow struct {
	Proto      string       `cbor:"1,keyasint" json:"proto"` // Proto…, or the IP protocol number as a string
	Src        string       `cbor:"2,keyasint" json:"src"`   // address
	Dst        string       `cbor:"3,keyasint" json:"dst"`
	SPort      uint16       `cbor:"4,keyasint,omitempty" json:"sport"`
	DPort      uint16       `cbor:"5,keyasint,omitempty" json:"dport"` // ICMP: type<<8 | code
	SrcZone    string       `cbor:"6,keyasint" json:"src_zone"`
	DstZone    string       `cbor:"7,keyasint" json:"dst_zone"`
	Packets    uint64       `cbor:"8,keyasint" json:"packets"` // both directions
	Bytes      uint64       `cbor:"9,keyasint" json:"bytes"`   // IP length, both directions
	RevPackets uint64       `cbor:"10,keyasint,omitempty" json:"rev_packets,omitempty"`
	RevBytes   uint64       `cbor:"11,keyasint,omitempty" json:"rev_bytes,omitempty"`
	First      int64        `cbor:"12,keyasint" json:"first"` // Unix nanoseconds
	Last       int64        `cbor:"13,keyasint" json:"last"`
	Verdict    string       `cbor:"14,keyasint" json:"verdict"`                  // Verdict…
	Rule       string       `cbor:"15,keyasint,omitempty" json:"rule,omitempty"` // the firewall rule that allowed it
	Process    *FlowProcess `cbor:"16,keyasint,omitempty" json:"process,omitempty"`
	VLAN       uint16       `cbor:"17,keyasint,omitempty" json:"vlan,omitempty"` // outer 802.1Q/802.1ad tag
}

// FlowProcess is the local process that owned a flow's socket.
type FlowProcess struct {
	PID  int32  `cbor:"1,keyasint" json:"pid"`
	Name string `cbor:"2,keyasint,omitempty" json:"name,omitempty"`
	Exe  string `cbor:"3,keyasint,omitempty" json:"exe,omitempty"`
	User string `cbor:"4,keyasint,omitempty" json:"user,omitempty"`
}

// ZoneCount is the traffic that stayed inside one zone during an interval.
type ZoneCount struct {
	Zone    string `cbor:"1,keyasint" json:"zone"`
	Flows   uint64 `cbor:"2,keyasint" json:"flows"`
	Packets uint64 `cbor:"3,keyasint" json:"packets"`
	Bytes   uint64 `cbor:"4,keyasint" json:"bytes"`
}

// CaptureStats says how complete a capture was.
type CaptureStats struct {
	Packets uint64 `cbor:"1,keyasint" json:"packets"` // read
	// Dropped are packets the kernel (or capture driver) dropped.
	Dropped uint64 `cbor:"2,keyasint,omitempty" json:"dropped,omitempty"`
	// Skipped are packets read but not decoded, by reason
	// ("link type 105", "truncated", "not IP" …).
	Skipped map[string]uint64 `cbor:"3,keyasint,omitempty" json:"skipped,omitempty"`
	// Evicted are flows dropped from the table before their time because it
	// was full; ActiveFlows is its size at the end of the interval.
	Evicted     uint64 `cbor:"4,keyasint,omitempty" json:"evicted,omitempty"`
	ActiveFlows uint64 `cbor:"5,keyasint,omitempty" json:"active_flows,omitempty"`
	// Error is why the capture is not running, when it is not ("Npcap is not
	// installed", "no CAP_NET_RAW").
	Error string `cbor:"6,keyasint,omitempty" json:"error,omitempty"`
}

// Neighbour discovery protocols.
const (
	ViaARP  = "arp"
	ViaDHCP = "dhcp"
	ViaNDP  = "ndp"
	ViaLLDP = "lldp"
	ViaCDP  = "cdp"
)

// Neighbours is the body of a KindNeighbours record: devices seen on the
// local segment, new or changed since the last record.
type Neighbours struct {
	Source  string      `cbor:"1,keyasint" json:"source"` // as Flows.Source
	Devices []Neighbour `cbor:"2,keyasint" json:"devices"`
}

// Neighbour is one device seen on the wire, by its MAC address.
type Neighbour struct {
	MAC         string   `cbor:"1,keyasint" json:"mac"` // lower case, colon separated
	IPs         []string `cbor:"2,keyasint,omitempty" json:"ips,omitempty"`
	Name        string   `cbor:"3,keyasint,omitempty" json:"name,omitempty"`   // DHCP host name, LLDP/CDP system name
	Vendor      string   `cbor:"4,keyasint,omitempty" json:"vendor,omitempty"` // from the OUI
	VendorClass string   `cbor:"5,keyasint,omitempty" json:"vendor_class,omitempty"`
	SeenBy      []string `cbor:"6,keyasint" json:"seen_by"` // Via…, sorted
	First       int64    `cbor:"7,keyasint" json:"first"`   // Unix nanoseconds
	Last        int64    `cbor:"8,keyasint" json:"last"`
	// LLDP and CDP tell more: the port and the platform.
	Port     string `cbor:"9,keyasint,omitempty" json:"port,omitempty"`
	Platform string `cbor:"10,keyasint,omitempty" json:"platform,omitempty"`
	VLAN     uint16 `cbor:"11,keyasint,omitempty" json:"vlan,omitempty"`
}

// Sockets is the body of a KindSockets record: the host's connections with
// the processes that own them, those that cross zones.
type Sockets struct {
	Conns []Socket `cbor:"1,keyasint" json:"conns"`
	// Total is every connection seen, crossing zones or not.
	Total int `cbor:"2,keyasint" json:"total"`
}

// Socket is one connection or listening socket.
type Socket struct {
	Proto      string       `cbor:"1,keyasint" json:"proto"` // tcp, udp
	Local      string       `cbor:"2,keyasint" json:"local"` // address:port
	Remote     string       `cbor:"3,keyasint,omitempty" json:"remote,omitempty"`
	State      string       `cbor:"4,keyasint,omitempty" json:"state,omitempty"` // ESTABLISHED, LISTEN …
	LocalZone  string       `cbor:"5,keyasint,omitempty" json:"local_zone,omitempty"`
	RemoteZone string       `cbor:"6,keyasint,omitempty" json:"remote_zone,omitempty"`
	Process    *FlowProcess `cbor:"7,keyasint,omitempty" json:"process,omitempty"`
}

// ZonePolicy is the zone table and firewall map pushed to agents, in the
// shape of the zones file (see pkg/zone).
type ZonePolicy struct {
	Zones    []ZoneDef      `cbor:"1,keyasint" json:"zones"`
	Firewall []FirewallRule `cbor:"2,keyasint,omitempty" json:"firewall,omitempty"`
}

// ZoneDef is one zone.
type ZoneDef struct {
	Name     string   `cbor:"1,keyasint" json:"name"`
	Kind     string   `cbor:"2,keyasint" json:"kind"` // external, internal, sensitive
	Purpose  string   `cbor:"3,keyasint,omitempty" json:"purpose,omitempty"`
	Parent   string   `cbor:"4,keyasint,omitempty" json:"parent,omitempty"`
	Prefixes []string `cbor:"5,keyasint,omitempty" json:"prefixes,omitempty"`
}

// FirewallRule is one allowed flow of the firewall map.
type FirewallRule struct {
	ID            string   `cbor:"1,keyasint" json:"id"`
	From          string   `cbor:"2,keyasint" json:"from"`
	To            string   `cbor:"3,keyasint" json:"to"`
	Proto         string   `cbor:"4,keyasint,omitempty" json:"proto,omitempty"` // "" or "any" for every protocol
	Ports         []string `cbor:"5,keyasint,omitempty" json:"ports,omitempty"` // "443", "8000-8100"; none for every port
	Justification string   `cbor:"6,keyasint" json:"justification"`
	Owner         string   `cbor:"7,keyasint,omitempty" json:"owner,omitempty"`
}
