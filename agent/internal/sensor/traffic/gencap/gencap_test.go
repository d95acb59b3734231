package gencap

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sonevakt/sonevakt/pkg/zone"
)

// tuple is a flow key with both directions merged: the lower end first.
type tuple struct {
	a, b   netip.Addr
	pa, pb uint16 // ICMP echo: the identifier in both
	proto  layers.IPProtocol
}

// readBack decodes a capture with gopacket's own decoders and returns its
// records and distinct 5-tuples (ICMP echo keyed by identifier).
func readBack(t *testing.T, data []byte) (packets int, tuples map[tuple]int) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != Snaplen {
		t.Fatalf("link type %v, snaplen %d; want Ethernet, %d", r.LinkType(), r.Snaplen(), Snaplen)
	}
	tuples = map[tuple]int{}
	for {
		frame, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", packets+1, err)
		}
		packets++
		if ci.CaptureLength > Snaplen || ci.Length < ci.CaptureLength || ci.Length < 60 || ci.Length > 1522 {
			t.Fatalf("record %d: captured %d of %d bytes", packets, ci.CaptureLength, ci.Length)
		}
		pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
		nl := pkt.NetworkLayer()
		if nl == nil {
			t.Fatalf("record %d: no network layer: %v", packets, pkt)
		}
		src, _ := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		k := tuple{a: src, b: dst}
		switch l := pkt.TransportLayer().(type) {
		case *layers.TCP:
			k.proto, k.pa, k.pb = layers.IPProtocolTCP, uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.UDP:
			k.proto, k.pa, k.pb = layers.IPProtocolUDP, uint16(l.SrcPort), uint16(l.DstPort)
		default:
			if ic, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
				k.proto, k.pa, k.pb = layers.IPProtocolICMPv4, ic.Id, ic.Id
			} else if ic, ok := pkt.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo); ok {
				k.proto, k.pa, k.pb = layers.IPProtocolICMPv6, ic.Identifier, ic.Identifier
			} else {
				t.Fatalf("record %d: no TCP, UDP or ICMP echo: %v", packets, pkt)
			}
		}
		if k.b.Less(k.a) {
			k.a, k.b, k.pa, k.pb = k.b, k.a, k.pb, k.pa
		}
		tuples[k]++
	}
	return packets, tuples
}

func TestWriteReadsBack(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"ipv4", Options{Packets: 20000, Flows: 1000, Seed: 1}},
		{"mixed", Options{Packets: 30000, Flows: 2500, Seed: 2, IPv6Share: 0.3, VLANShare: 0.2}},
		{"ipv6 and vlan only", Options{Packets: 5000, Flows: 400, Seed: 3, IPv6Share: 1, VLANShare: 1}},
		{"one packet per flow", Options{Packets: 3000, Flows: 3000, Seed: 4, IPv6Share: 0.5}},
		{"more flows than packets", Options{Packets: 100, Flows: 500, Seed: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			st, err := Write(&buf, tt.opts)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if st.FileBytes != int64(buf.Len()) {
				t.Errorf("Stats.FileBytes = %d, wrote %d", st.FileBytes, buf.Len())
			}
			wantFlows := min(tt.opts.Flows, tt.opts.Packets)
			if st.Packets != tt.opts.Packets || st.Flows != wantFlows || st.TCP+st.UDP+st.ICMP != wantFlows {
				t.Errorf("Stats = %+v, want %d packets, %d flows", st, tt.opts.Packets, wantFlows)
			}
			packets, tuples := readBack(t, buf.Bytes())
			if packets != tt.opts.Packets {
				t.Errorf("read %d packets, want %d", packets, tt.opts.Packets)
			}
			// Random hosts and source ports may collide now and then.
			if n := len(tuples); n > wantFlows || n < wantFlows*99/100 {
				t.Errorf("%d distinct 5-tuples, want about %d", n, wantFlows)
			}
		})
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	opts := Options{Packets: 10000, Flows: 700, Seed: 42, IPv6Share: 0.2, VLANShare: 0.1}
	var a, b, c bytes.Buffer
	if _, err := Write(&a, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(&b, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("two captures of seed %d differ", opts.Seed)
	}
	opts.Seed++
	if _, err := Write(&c, opts); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Errorf("seeds %d and %d give the same capture", opts.Seed-1, opts.Seed)
	}
}

func TestWriteRejects(t *testing.T) {
	for _, opts := range []Options{
		{Packets: -1, Flows: 1},
		{Packets: 10, Flows: 0},
		{Packets: 10, Flows: 1, Zones: []netip.Prefix{}},
	} {
		if _, err := Write(io.Discard, opts); err == nil {
			t.Errorf("Write(%+v) succeeded, want an error", opts)
		}
	}
	var buf bytes.Buffer
	st, err := Write(&buf, Options{})
	if err != nil || st.Packets != 0 || buf.Len() != 24 {
		t.Errorf("Write(no packets) = %+v, %v, %d bytes; want a bare 24-byte header", st, err, buf.Len())
	}
}

// TestZonesMatchPrefixes checks that ZonesYAML loads, that the flows cross
// between all four zones, and that the firewall map allows some of them.
func TestZonesMatchPrefixes(t *testing.T) {
	m, err := zone.Parse("zones.yaml", ZonesYAML())
	if err != nil {
		t.Fatalf("zone.Parse(ZonesYAML()): %v", err)
	}
	for _, p := range DefaultZones() {
		name := m.ZoneOf(p.Addr().Next()).Name
		if p.Addr().Is4() && p.Addr().As4()[0] == 198 || p.Addr().Is6() && p.Addr().As16()[0] == 0x20 {
			if name != "external" {
				t.Errorf("zone of %v = %q, want external", p, name)
			}
		} else if name == "external" {
			t.Errorf("prefix %v is in no zone of ZonesYAML", p)
		}
	}

	var buf bytes.Buffer
	if _, err := Write(&buf, Options{Packets: 20000, Flows: 2000, Seed: 7, IPv6Share: 0.3}); err != nil {
		t.Fatal(err)
	}
	_, tuples := readBack(t, buf.Bytes())
	zones := map[string]bool{}
	var cross, allowed int
	for k := range tuples {
		za, zb := m.ZoneIndex(k.a), m.ZoneIndex(k.b)
		zones[m.ZoneByIndex(za).Name] = true
		zones[m.ZoneByIndex(zb).Name] = true
		if za == zb {
			continue
		}
		cross++
		// Either end may be the client; a rule for either direction counts.
		proto := uint8(k.proto)
		if _, ok := m.AllowedIndex(za, zb, proto, k.pb); ok {
			allowed++
		} else if _, ok := m.AllowedIndex(zb, za, proto, k.pa); ok {
			allowed++
		}
	}
	if len(zones) != 4 {
		t.Errorf("flows touch zones %v, want intern, helse, skole and external", zones)
	}
	if cross == 0 || cross == len(tuples) {
		t.Errorf("%d of %d flows cross zones, want some but not all", cross, len(tuples))
	}
	if allowed == 0 || allowed == cross {
		t.Errorf("the firewall map allows %d of %d cross-zone flows, want some but not all", allowed, cross)
	}
}
