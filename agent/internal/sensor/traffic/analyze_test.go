package traffic

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// anPcapDir holds the real captures shared by the project's tests.
const anPcapDir = "../../../../../shared/testdata/pcap"

// anCaptures returns the captures in anPcapDir, skipping the test when
// there are none (failing under CI).
func anCaptures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(anPcapDir, "*.pcap*"))
	if err == nil && len(files) == 0 {
		err = errors.New("no captures")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("captures in %s: %v", anPcapDir, err)
		}
		t.Skipf("captures in %s: %v", anPcapDir, err)
	}
	return files
}

// anGoldenMaxFlows is the most flows a golden file lists in full.
const anGoldenMaxFlows = 200

func anZones(t testing.TB) *zone.Map {
	t.Helper()
	m, err := zone.Load("testdata/zones.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func anAnalyze(t testing.TB, path string, opts AnalyzeOptions) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Analyze(f, opts)
	if err != nil {
		t.Fatalf("Analyze(%s): %v", path, err)
	}
	return rep
}

// TestAnalyzeGolden compares the report of every capture, classified by
// testdata/zones.yaml, with its golden file (go test -update rewrites them).
func TestAnalyzeGolden(t *testing.T) {
	zones := anZones(t)
	for _, path := range anCaptures(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			rep := anAnalyze(t, path, AnalyzeOptions{Zones: zones})
			// The industrial capture has 3000 flows inside one zone, a
			// megabyte of JSON: its golden file keeps the cross-zone ones
			// (TestAnalyzeMatchesTshark checks every flow of it).
			if len(rep.Flows) > anGoldenMaxFlows {
				rep.Flows = slices.DeleteFunc(rep.Flows, func(f ReportFlow) bool { return !f.CrossZone })
			}
			got, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report of %s differs from %s (go test -update rewrites it):\n%s", name, golden, got)
			}
		})
	}
}

// TestAnalyzeOddCaptures checks what the captures with odd link types and
// damage give, beyond the golden files: sensible skip counts.
func TestAnalyzeOddCaptures(t *testing.T) {
	anCaptures(t)
	tests := []struct {
		file    string
		packets uint64
		skipped map[string]uint64
		flows   int
	}{
		{"zeek_arp-who-has-radiotap.pcap", 2, map[string]uint64{"link type 127": 2}, 0},
		{"tcpdump_empty.pcapng", 0, map[string]uint64{}, 0},
		// ICMP and ICMPv6 echo (one flow each), ARP (for discovery), RARP.
		{"zeek_linux_dlt_sll2.pcap", 6, map[string]uint64{"not IP": 1}, 2},
		{"tcpdump_802.1ad_QinQ.pcap", 2, map[string]uint64{}, 0},
		// Addresses longer than the SLL field declared by 7 of 209 frames:
		// read as tshark does, one TCP connection.
		// Two frames tshark leaves out of its conversations too: an IP
		// packet cut in its TCP header, and a TCP header length of 0.
		{"gopacket_linux_sll_oversized_addr.pcapng", 209, map[string]uint64{"truncated": 1, "malformed TCP": 1}, 1},
	}
	for _, tt := range tests {
		rep := anAnalyze(t, filepath.Join(anPcapDir, tt.file), AnalyzeOptions{})
		if rep.Packets != tt.packets || !mapsEqual(rep.Skipped, tt.skipped) || len(rep.Flows) != tt.flows {
			t.Errorf("%s: packets %d, skipped %v, %d flows; want %d, %v, %d",
				tt.file, rep.Packets, rep.Skipped, len(rep.Flows), tt.packets, tt.skipped, tt.flows)
		}
	}
	// brcm-tag: every record skipped under its link type.
	rep := anAnalyze(t, filepath.Join(anPcapDir, "tcpdump_brcm-tag.pcap"), AnalyzeOptions{})
	if rep.Packets == 0 || rep.Skipped["link type 281"] != rep.Packets || len(rep.Flows) != 0 {
		t.Errorf("tcpdump_brcm-tag.pcap: packets %d, skipped %v, %d flows; want all skipped as link type 281",
			rep.Packets, rep.Skipped, len(rep.Flows))
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// anConv is one tshark conversation: proto and the two ends, in order.
type anConv struct {
	proto  string
	a, b   netip.AddrPort
	frames uint64
}

func anConvKey(proto string, x, y netip.AddrPort) string {
	if y.Compare(x) < 0 {
		x, y = y, x
	}
	return proto + " " + x.String() + " " + y.String()
}

// tsharkConvs runs tshark's TCP and UDP conversation statistics on a
// capture: frames by conversation. ok is false when tshark cannot read it.
func tsharkConvs(t *testing.T, tshark, path string) (map[string]uint64, bool) {
	t.Helper()
	out, err := exec.Command(tshark, "-n", "-q", "-r", path, "-z", "conv,tcp", "-z", "conv,udp").CombinedOutput()
	if err != nil {
		t.Logf("tshark cannot read %s: %v: %s", filepath.Base(path), err, bytes.TrimSpace(out))
		return nil, false
	}
	convs := map[string]uint64{}
	proto := ""
	for line := range strings.Lines(string(out)) {
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			proto = "tcp"
			continue
		case strings.HasPrefix(line, "UDP Conversations"):
			proto = "udp"
			continue
		}
		f := strings.Fields(line)
		if len(f) < 10 || f[1] != "<->" {
			continue
		}
		a, err1 := netip.ParseAddrPort(anBracket(f[0]))
		b, err2 := netip.ParseAddrPort(anBracket(f[2]))
		// Frames <-, bytes, unit, frames ->, bytes, unit, total frames.
		n, err3 := strconv.ParseUint(strings.ReplaceAll(f[9], ",", ""), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("tshark line %q: %v %v %v", line, err1, err2, err3)
		}
		convs[anConvKey(proto, a, b)] += n
	}
	return convs, true
}

// anBracket turns tshark's "::1:8080" into "[::1]:8080".
func anBracket(s string) string {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !strings.Contains(s[:i], ":") {
		return s
	}
	return "[" + s[:i] + "]" + s[i:]
}

// TestAnalyzeMatchesTshark compares the TCP and UDP flows of every capture
// tshark reads with tshark's conversations: the same flows with the same
// frame counts (both directions).
func TestAnalyzeMatchesTshark(t *testing.T) {
	files := anCaptures(t)
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is not installed (Debian package tshark)")
		}
		t.Skip("tshark is not installed (Debian package tshark)")
	}
	compared := 0
	for _, path := range files {
		name := filepath.Base(path)
		want, ok := tsharkConvs(t, tshark, path)
		if !ok {
			continue
		}
		compared++
		rep := anAnalyze(t, path, AnalyzeOptions{})
		got := map[string]uint64{}
		for _, f := range rep.Flows {
			if f.Proto != wire.ProtoTCP && f.Proto != wire.ProtoUDP {
				continue
			}
			src := netip.AddrPortFrom(netip.MustParseAddr(f.Src), f.SPort)
			dst := netip.AddrPortFrom(netip.MustParseAddr(f.Dst), f.DPort)
			got[anConvKey(f.Proto, src, dst)] += f.Packets
		}
		var diffs []string
		for k, n := range want {
			if got[k] != n {
				diffs = append(diffs, fmt.Sprintf("%s: %d packets, tshark %d", k, got[k], n))
			}
		}
		for k, n := range got {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: %d packets, not in tshark", k, n))
			}
		}
		slices.Sort(diffs)
		if len(diffs) > 0 {
			t.Errorf("%s: %d of %d conversations differ from tshark:\n%s", name, len(diffs), len(want), strings.Join(diffs, "\n"))
		} else {
			t.Logf("%s: %d TCP and UDP conversations agree with tshark", name, len(want))
		}
	}
	if compared == 0 {
		t.Error("tshark read none of the captures")
	}
}

func TestAnalyzeNotCapture(t *testing.T) {
	for _, in := range []string{"", "x", "hello, world\n", "\x0a\x0d\x0d\x0a"} {
		_, err := Analyze(strings.NewReader(in), AnalyzeOptions{})
		if err == nil {
			t.Errorf("Analyze(%q) = nil error, want one", in)
			continue
		}
		if len(in) < 4 && !errors.Is(err, ErrNotCapture) {
			t.Errorf("Analyze(%q) = %v, want ErrNotCapture", in, err)
		}
	}
	_, err := Analyze(strings.NewReader("hello, world\n"), AnalyzeOptions{})
	if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), "not a pcap or pcapng capture") {
		t.Errorf("Analyze(text) = %v, want ErrNotCapture saying so", err)
	}
}

// TestAnalyzeDamaged cuts and corrupts a real capture: no panic, the
// packets before the damage are counted, the damage is counted.
func TestAnalyzeDamaged(t *testing.T) {
	anCaptures(t)
	data, err := os.ReadFile(filepath.Join(anPcapDir, "gopacket_test_vlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Analyze(bytes.NewReader(data), AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Cut in the middle of the last record.
	rep, err := Analyze(bytes.NewReader(data[:len(data)-10]), AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Packets != full.Packets-1 || rep.Skipped["truncated record"] != 1 {
		t.Errorf("cut capture: packets %d, skipped %v; want %d and one truncated record", rep.Packets, rep.Skipped, full.Packets-1)
	}
	// A record header claiming a huge length after the first record.
	bad := bytes.Clone(data)
	first := 24 + 16 + int(le32(bad[24+8:]))
	copy(bad[first+8:], []byte{0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f})
	rep, err = Analyze(bytes.NewReader(bad), AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Packets != 1 || rep.Skipped["damaged record"] != 1 {
		t.Errorf("damaged capture: packets %d, skipped %v; want 1 and one damaged record", rep.Packets, rep.Skipped)
	}
	// Random damage anywhere after the header: never a panic.
	for i := 24; i < len(data); i += 7 {
		b := bytes.Clone(data)
		b[i] ^= 0xa5
		if _, err := Analyze(bytes.NewReader(b), AnalyzeOptions{}); err != nil {
			t.Fatalf("damage at %d: %v", i, err)
		}
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// TestAnalyzeZones checks the classification and verdicts on the industrial
// capture: the allowed and the denied cross-zone flows and the matrix.
func TestAnalyzeZones(t *testing.T) {
	anCaptures(t)
	rep := anAnalyze(t, filepath.Join(anPcapDir, "gopacket_cip.pcap"), AnalyzeOptions{Zones: anZones(t)})
	find := func(src, dst string, dport uint16) *ReportFlow {
		for i, f := range rep.Flows {
			if f.Src == src && f.Dst == dst && f.DPort == dport {
				return &rep.Flows[i]
			}
		}
		t.Fatalf("no flow %s -> %s:%d among %d flows", src, dst, dport, len(rep.Flows))
		return nil
	}
	tests := []struct {
		src, dst         string
		dport            uint16
		srcZone, dstZone string
		verdict, rule    string
	}{
		{"10.200.1.18", "10.50.1.54", 44818, "intern", "scada", wire.VerdictAllowed, "fw-3"},
		{"10.200.1.18", "54.175.48.202", 80, "intern", "external", wire.VerdictAllowed, "fw-1"},
		{"10.200.1.18", "8.8.8.8", 53, "intern", "external", wire.VerdictAllowed, "fw-2"},
		{"10.200.1.252", "10.200.1.18", 139, "intern", "intern", VerdictIntraZone, ""},
	}
	for _, tt := range tests {
		f := find(tt.src, tt.dst, tt.dport)
		if f.SrcZone != tt.srcZone || f.DstZone != tt.dstZone || f.Verdict != tt.verdict || f.Rule != tt.rule || f.CrossZone != (tt.srcZone != tt.dstZone) {
			t.Errorf("flow %s -> %s:%d: %+v, want zones %s -> %s, verdict %s, rule %q",
				tt.src, tt.dst, tt.dport, *f, tt.srcZone, tt.dstZone, tt.verdict, tt.rule)
		}
	}
	var cells []string
	for _, c := range rep.ZoneMatrix {
		cells = append(cells, fmt.Sprintf("%s->%s", c.From, c.To))
	}
	if !slices.IsSorted(cells) || len(cells) == 0 {
		t.Errorf("zone matrix %v: want sorted, not empty", cells)
	}
}

// anBenchCapture is a generated pcap of n Ethernet/IPv4/TCP packets over
// flows flows (both directions, in bursts of 20), between addresses in the
// zones of testdata/zones.yaml and outside them.
func anBenchCapture(tb testing.TB, n, flows int) []byte {
	tb.Helper()
	frame := decTCPFrame(tb)[:54]
	binary.BigEndian.PutUint16(frame[16:], 40) // IP total length: no payload
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		f := (i / 20) % flows
		b := frame
		client := [4]byte{10, 200, byte(f >> 8), byte(f)}
		server := [4]byte{10, 50, 1, byte(f % 7)}
		if f%3 == 0 {
			server = [4]byte{93, 184, byte(f >> 8), byte(f)}
		}
		sport, dport := uint16(49152+f%16000), uint16(443)
		if i%2 == 1 {
			client, server, sport, dport = server, client, dport, sport
		}
		copy(b[26:30], client[:])
		copy(b[30:34], server[:])
		binary.BigEndian.PutUint16(b[34:], sport)
		binary.BigEndian.PutUint16(b[36:], dport)
		b[47] = FlagACK
		ci := gopacket.CaptureInfo{Timestamp: decT0.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// BenchmarkAnalyze reads a generated capture of 2 million packets and
// 100 000 flows, with zone classification, on one goroutine. Set
// SONEVAKT_BENCH_PCAP=FILE to write the capture there for running
// softflowd -r and tcpdump -r on the same packets.
func BenchmarkAnalyze(b *testing.B) {
	const packets, flows = 2_000_000, 100_000
	capture := anBenchCapture(b, packets, flows)
	if path := os.Getenv("SONEVAKT_BENCH_PCAP"); path != "" {
		if err := os.WriteFile(path, capture, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	zones := anZones(b)
	b.SetBytes(int64(len(capture)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Analyze(bytes.NewReader(capture), AnalyzeOptions{Zones: zones})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Packets != packets || len(rep.Flows) != flows {
			b.Fatalf("%d packets in %d flows, want %d in %d", rep.Packets, len(rep.Flows), packets, flows)
		}
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

func TestAnalyzeGzip(t *testing.T) {
	anCaptures(t)
	data, err := os.ReadFile(filepath.Join(anPcapDir, "gopacket_test_vlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	plain, err1 := Analyze(bytes.NewReader(data), AnalyzeOptions{})
	zipped, err2 := Analyze(&z, AnalyzeOptions{})
	if err1 != nil || err2 != nil {
		t.Fatalf("Analyze: %v, gzipped: %v", err1, err2)
	}
	if !reflect.DeepEqual(plain, zipped) {
		t.Errorf("gzipped capture: %+v, want as plain %+v", zipped, plain)
	}
}

// anEncoderJSON is the report as a json.Encoder with a two-space indent
// writes it, which WriteJSON must match byte for byte.
func anEncoderJSON(t *testing.T, rep *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReportWriteJSON compares WriteJSON with encoding/json on the reports
// of every capture, with and without zones, and on reports with every field
// set, odd strings, and empty or nil parts.
func TestReportWriteJSON(t *testing.T) {
	var reps []*Report
	zones := anZones(t)
	for _, path := range anCaptures(t) {
		disc := NewDiscoverer(nil)
		rep := anAnalyze(t, path, AnalyzeOptions{Zones: zones, Discover: disc.Observe})
		if devs := disc.Devices(); devs != nil {
			rep.Devices = devs
		}
		reps = append(reps, rep, anAnalyze(t, path, AnalyzeOptions{}))
	}
	odd := ReportFlow{
		Src: "fd00::1", Dst: "10.0.0.1", Proto: "tcp", SPort: 65535, DPort: 1, Packets: 1 << 63, Bytes: 12,
		RevPackets: 3, SrcZone: `a"b\c<d>e&f`, DstZone: "hels\u00e6 \u2028 \x01\x7f \xff", CrossZone: true,
		Verdict: wire.VerdictAllowed, Rule: "r\t1", VLAN: 4094,
	}
	full := &Report{
		Packets: 7, Skipped: map[string]uint64{"b": 1, "a <&>": 2}, Flows: []ReportFlow{odd, {}},
		ZoneMatrix: []ZoneCell{{From: "x", To: "y", Flows: 1}}, Devices: []wire.Neighbour{{MAC: "00:11:22:33:44:55", IPs: []string{"10.0.0.1"}}},
		Evicted: 9, First: -5, Last: 1 << 62,
	}
	// Every field of a flow is set: a field added to ReportFlow and not to
	// appendJSON makes this report differ.
	for i, v := 0, reflect.ValueOf(odd); i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("field %s of the test flow is zero", v.Type().Field(i).Name)
		}
	}
	reps = append(reps, full, &Report{}, &Report{Skipped: map[string]uint64{}, Flows: []ReportFlow{}, Devices: []wire.Neighbour{}})
	for i, rep := range reps {
		var got bytes.Buffer
		if err := rep.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if want := anEncoderJSON(t, rep); !bytes.Equal(got.Bytes(), want) {
			t.Errorf("report %d: WriteJSON wrote\n%.2000s\nencoding/json\n%.2000s", i, got.Bytes(), want)
		}
	}
}
