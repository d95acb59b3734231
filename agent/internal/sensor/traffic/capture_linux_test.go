package traffic

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// The live tests join the root namespace and a namespace of their own by a
// veth pair: 10.9.0.1 (zone helse) on the root side, 192.168.50.2 (zone
// intern) in the namespace, each with a /32 route to the other. A helper
// (this test binary, re-executed in the namespace) serves TCP and UDP there.

const (
	liveRoot   = "10.9.0.1"
	liveNS     = "192.168.50.2"
	liveTCP    = 9000 // helper's TCP echo
	liveUDP    = 9001 // helper's UDP echo
	liveExcl   = 9002 // helper's UDP echo, excluded from capture
	liveMarker = 9003 // nobody listens: the last packet of a test
	liveBack   = 9100 // the root side's TCP listener the helper dials
)

// liveSkip skips a test that the machine cannot run, or fails it under CI,
// where everything must be there.
func liveSkip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

func liveRun(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// liveNet is the veth pair between the root namespace and the test's own.
type liveNet struct {
	ns, host, peer string
}

// newLiveNet creates the namespace and the veth pair, removed when the
// test ends.
func newLiveNet(t testing.TB) *liveNet {
	t.Helper()
	if os.Geteuid() != 0 {
		liveSkip(t, "live capture tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		liveSkip(t, "live capture tests need ip (iproute2): %v", err)
	}
	id := os.Getpid() % 100000
	n := &liveNet{ns: fmt.Sprintf("sv-test-%d", os.Getpid()), host: fmt.Sprintf("svh%d", id), peer: fmt.Sprintf("svn%d", id)}
	liveRun(t, "ip", "netns", "add", n.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.ns).Run() })
	liveRun(t, "ip", "link", "add", n.host, "type", "veth", "peer", "name", n.peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", n.host).Run() })
	liveRun(t, "ip", "link", "set", n.peer, "netns", n.ns)
	liveRun(t, "ip", "addr", "add", liveRoot+"/32", "dev", n.host)
	liveRun(t, "ip", "link", "set", n.host, "up")
	liveRun(t, "ip", "route", "add", liveNS+"/32", "dev", n.host)
	in := func(args ...string) { liveRun(t, append([]string{"ip", "netns", "exec", n.ns}, args...)...) }
	in("ip", "link", "set", "lo", "up")
	in("ip", "addr", "add", liveNS+"/32", "dev", n.peer)
	in("ip", "link", "set", n.peer, "up")
	in("ip", "route", "add", liveRoot+"/32", "dev", n.peer)
	return n
}

// helper is the serving process in the namespace.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startHelper re-executes the test binary in the namespace as
// TestHelperProcess and waits for it to listen.
func (n *liveNet) startHelper(t *testing.T) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.ns, exe, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "SV_TRAFFIC_HELPER=serve")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if line := h.line(t); line != "ready" {
		t.Fatalf("helper said %q, want ready", line)
	}
	return h
}

func (h *helper) line(t *testing.T) string {
	t.Helper()
	s, err := h.out.ReadString('\n')
	if err != nil {
		t.Fatalf("read helper: %v", err)
	}
	return strings.TrimSpace(s)
}

// TestHelperProcess is the helper, not a test: with SV_TRAFFIC_HELPER=serve
// it serves in the namespace until its stdin closes; with "noraw" it tries
// to open a capture and prints the error.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("SV_TRAFFIC_HELPER") {
	case "serve":
		helperServe()
		os.Exit(0)
	case "noraw":
		_, err := openLive("lo", captureConfig{})
		fmt.Println(err)
		os.Exit(0)
	case "inject":
		if err := helperInject(t); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

func helperServe() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(liveNS, strconv.Itoa(liveTCP)))
	if err != nil {
		fail(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				fmt.Fprintf(c, "got %d", n)
			}()
		}
	}()
	for _, port := range []int{liveUDP, liveExcl} {
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(liveNS, strconv.Itoa(port)))
		if err != nil {
			fail(err)
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo(buf[:n], from)
			}
		}()
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "dial" {
			continue
		}
		// Open a connection to the root side: the namespace initiates.
		c, err := net.Dial("tcp4", net.JoinHostPort(liveRoot, strconv.Itoa(liveBack)))
		if err != nil {
			fail(err)
		}
		_, _ = c.Write([]byte("hello from intern"))
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
		c.Close()
		fmt.Println("dialed")
	}
}

// liveZones classifies the two ends and allows helse to reach intern on
// TCP 9000.
func liveZones(t *testing.T) *zone.Map {
	t.Helper()
	m, err := zone.FromPolicy(liveZonePolicy())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func liveZonePolicy() wire.ZonePolicy {
	return wire.ZonePolicy{
		Zones: []wire.ZoneDef{
			{Name: "intern", Kind: "internal", Prefixes: []string{"192.168.0.0/16"}},
			{Name: "helse", Kind: "sensitive", Prefixes: []string{"10.9.0.0/16"}},
		},
		Firewall: []wire.FirewallRule{{ID: "journal-sync", From: "helse", To: "intern", Proto: "tcp", Ports: []string{"9000"}, Justification: "test"}},
	}
}

// udpExchange sends n datagrams to port and reads each echo.
func udpExchange(t *testing.T, port, n int) {
	t.Helper()
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(liveRoot)}, &net.UDPAddr{IP: net.ParseIP(liveNS), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for i := range n {
		if _, err := fmt.Fprintf(c, "datagram %d", i); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("udp echo from port %d: %v", port, err)
		}
	}
}

// sendMarker sends the datagram that tells the capture reader to stop.
func sendMarker(t *testing.T) {
	t.Helper()
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(liveRoot)}, &net.UDPAddr{IP: net.ParseIP(liveNS), Port: liveMarker})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("end"))
}

func TestLiveCaptureCrossZoneFlows(t *testing.T) {
	n := newLiveNet(t)
	h := n.startHelper(t)
	back, err := net.Listen("tcp4", net.JoinHostPort(liveRoot, strconv.Itoa(liveBack)))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	go func() {
		for {
			c, err := back.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, c)
			_, _ = c.Write([]byte("bye"))
			c.Close()
		}
	}()

	src, err := openLive(n.host, captureConfig{Snaplen: 128, Exclude: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(liveNS), liveExcl)}})
	if err != nil {
		t.Fatalf("openLive: %v", err)
	}
	table := NewTable(TableConfig{MaxFlows: 1024, IdleTimeout: time.Minute, ActiveTimeout: time.Hour, Zones: liveZones(t)})
	var (
		read, excluded, longest atomic.Int64
		readErr                 error
		wg                      sync.WaitGroup
	)
	var kernelPackets uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer src.Close()
		defer func() { kernelPackets, _ = src.Stats() }()
		dec := NewDecoder()
		var p Packet
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			data, ci, err := src.ReadPacket()
			if errors.Is(err, errTimeout) {
				continue
			}
			if err != nil {
				readErr = err
				return
			}
			read.Add(1)
			longest.Store(max(longest.Load(), int64(len(data))))
			if dec.Decode(src.LinkType(), data, ci, &p) != "" || !p.Src.IsValid() {
				continue
			}
			if p.SPort == liveExcl || p.DPort == liveExcl {
				excluded.Add(1)
			}
			if p.DPort == liveMarker {
				return
			}
			table.Add(&p)
		}
		readErr = errors.New("no marker within 30s")
	}()

	// TCP from the root side (helse) to the namespace (intern): 5 writes
	// of 300 bytes.
	c, err := net.DialTCP("tcp4", &net.TCPAddr{IP: net.ParseIP(liveRoot)}, &net.TCPAddr{IP: net.ParseIP(liveNS), Port: liveTCP})
	if err != nil {
		t.Fatalf("dial helper: %v", err)
	}
	c.SetNoDelay(true)
	for range 5 {
		if _, err := c.Write(make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.CloseWrite()
	reply, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(reply) != "got 1500" {
		t.Fatalf("helper replied %q, %v; want got 1500", reply, err)
	}
	// TCP from the namespace to the root side.
	fmt.Fprintln(h.stdin, "dial")
	if l := h.line(t); l != "dialed" {
		t.Fatalf("helper said %q, want dialed", l)
	}
	udpExchange(t, liveUDP, 5)
	udpExchange(t, liveExcl, 3)
	sendMarker(t)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("capture: %v", readErr)
	}
	if excluded.Load() != 0 {
		t.Errorf("%d packets of the excluded port captured, want none", excluded.Load())
	}
	if l := longest.Load(); l > 128 {
		t.Errorf("longest captured frame %d bytes, want at most the snap length 128", l)
	}
	if kernelPackets < uint64(read.Load()) {
		t.Errorf("kernel counted %d packets, fewer than the %d read", kernelPackets, read.Load())
	}

	rep := table.Report(time.Now(), "capture:"+n.host)
	find := func(proto, src, dst string, dport uint16) *wire.Flow {
		for i, f := range rep.Flows {
			if f.Proto == proto && f.Src == src && f.Dst == dst && f.DPort == dport {
				return &rep.Flows[i]
			}
		}
		t.Errorf("no %s flow %s -> %s:%d in %+v", proto, src, dst, dport, rep.Flows)
		return nil
	}
	if f := find(wire.ProtoTCP, liveRoot, liveNS, liveTCP); f != nil {
		// SYN, ACK, 5 data segments, FIN from the client; SYN/ACK, the
		// reply and FIN from the server (ACKs may ride along).
		if f.Packets < 10 || f.Bytes < 1500+8+10*40 || f.SrcZone != "helse" || f.DstZone != "intern" ||
			f.Verdict != wire.VerdictAllowed || f.Rule != "journal-sync" {
			t.Errorf("tcp flow to the helper = %+v; want >= 10 packets, >= %d bytes, helse -> intern, allowed by journal-sync", f, 1500+8+400)
		}
	}
	if f := find(wire.ProtoTCP, liveNS, liveRoot, liveBack); f != nil {
		if f.Packets < 6 || f.SrcZone != "intern" || f.DstZone != "helse" || f.Verdict != wire.VerdictDenied {
			t.Errorf("tcp flow from the namespace = %+v; want >= 6 packets, intern -> helse, denied", f)
		}
	}
	if f := find(wire.ProtoUDP, liveRoot, liveNS, liveUDP); f != nil {
		if f.Packets < 10 || f.RevPackets < 5 || f.Verdict != wire.VerdictDenied {
			t.Errorf("udp flow = %+v; want >= 10 packets, >= 5 back, denied", f)
		}
	}
	for _, f := range rep.Flows {
		if f.DPort == liveExcl || f.SPort == liveExcl {
			t.Errorf("flow of the excluded port reported: %+v", f)
		}
	}
}

func TestLiveCaptureNeedsCapNetRaw(t *testing.T) {
	if os.Geteuid() != 0 {
		liveSkip(t, "dropping CAP_NET_RAW needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		liveSkip(t, "setpriv (util-linux) not found: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--bounding-set=-net_raw", "--inh-caps=-net_raw", exe, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "SV_TRAFFIC_HELPER=noraw")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper without CAP_NET_RAW: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), ErrNoPrivilege.Error()) {
		t.Errorf("openLive without CAP_NET_RAW said %q, want %q", out, ErrNoPrivilege)
	}
}

func TestLiveCaptureMissingInterface(t *testing.T) {
	_, err := openLive("sv-nonexistent0", captureConfig{})
	if err == nil || !strings.Contains(err.Error(), "sv-nonexistent0") {
		t.Errorf("openLive of a missing interface = %v, want an error naming it", err)
	}
}

// TestLiveSensor runs the whole sensor on the veth for short intervals and
// waits for a flows record with the cross-zone UDP flow.
func TestLiveSensor(t *testing.T) {
	n := newLiveNet(t)
	n.startHelper(t)
	env := sensor.Env{
		Options: map[string]string{"interfaces": n.host, "interval": "1s", "exclude": net.JoinHostPort(liveNS, strconv.Itoa(liveExcl))},
		Policy:  func() wire.Policy { z := liveZonePolicy(); return wire.Policy{Version: 5, Zones: &z} },
	}
	s, err := New(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	records := make(chan wire.Record, 128)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(r wire.Record) { records <- r }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	deadline := time.After(30 * time.Second)
	send := time.NewTicker(100 * time.Millisecond)
	defer send.Stop()
	for {
		select {
		case <-deadline:
			t.Fatal("no flows record with the cross-zone UDP flow within 30s")
		case <-send.C:
			udpExchange(t, liveUDP, 1)
		case r := <-records:
			if r.Kind != wire.KindFlows {
				continue
			}
			var f wire.Flows
			if err := r.DecodeBody(&f); err != nil {
				t.Fatal(err)
			}
			if f.Source != "capture:"+n.host {
				t.Fatalf("flows record from %q, want capture:%s", f.Source, n.host)
			}
			if f.Stats.Error != "" {
				t.Fatalf("capture error: %s", f.Stats.Error)
			}
			for _, fl := range f.Flows {
				if fl.Proto == wire.ProtoUDP && fl.Src == liveRoot && fl.Dst == liveNS && fl.DPort == liveUDP &&
					fl.SrcZone == "helse" && fl.DstZone == "intern" && f.ZonesVersion == 5 && f.Stats.Packets > 0 {
					return
				}
			}
		}
	}
}

// BenchmarkLiveCapture reads packets off the veth through the AF_PACKET
// ring while a goroutine sends UDP datagrams across it; it reports the
// cost of a packet read, decoded and counted into the flow table.
func BenchmarkLiveCapture(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("live capture needs root")
	}
	n := newLiveNet(b)
	src, err := openLive(n.host, captureConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(liveRoot)}, &net.UDPAddr{IP: net.ParseIP(liveNS), Port: liveMarker})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		msg := make([]byte, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = c.Write(msg)
		}
	}()
	dec, table := NewDecoder(), NewTable(TableConfig{Zones: nil})
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, errTimeout) {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		i++
		if dec.Decode(src.LinkType(), data, ci, &p) == "" {
			table.Add(&p)
		}
	}
	b.StopTimer()
	_, dropped := src.Stats()
	b.ReportMetric(float64(dropped), "dropped")
}

// TestLiveCaptureVLAN has the helper write 802.1Q frames (VLAN 20) onto
// the namespace's end of the veth. Receiving them, the kernel takes the tag
// off the frame and hands it beside the data; the capture still names the
// VLAN of the packet and of its flow.
func TestLiveCaptureVLAN(t *testing.T) {
	n := newLiveNet(t)
	host, err := net.InterfaceByName(n.host)
	if err != nil {
		t.Fatal(err)
	}
	src, err := openLive(n.host, captureConfig{})
	if err != nil {
		t.Fatalf("openLive: %v", err)
	}
	defer src.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.ns, exe, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "SV_TRAFFIC_HELPER=inject", "SV_IFACE="+n.peer, "SV_DSTMAC="+host.HardwareAddr.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("inject tagged frames: %v\n%s", err, out)
	}

	s := newSensor(sensor.Env{}, defaultOptions(), nil)
	s.oui = &OUI{}
	w := s.newWorker(context.Background(), n.host, 1024, liveZones(t))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, errTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		w.packet(src.LinkType(), data, &ci)
		if w.pkt.DPort != liveMarker || w.pkt.Src != netip.MustParseAddr("192.168.20.2") {
			continue
		}
		if w.pkt.VLAN != 20 {
			t.Fatalf("packet on VLAN 20 decoded with VLAN %d", w.pkt.VLAN)
		}
		rep := w.table.Report(time.Now(), w.source)
		for _, f := range rep.Flows {
			if f.DPort == liveMarker && f.VLAN != 20 {
				t.Errorf("flow %+v, want VLAN 20", f)
			}
		}
		return
	}
	t.Fatal("no packet of VLAN 20 captured within 10s")
}

// helperInject writes three 802.1Q-tagged UDP frames onto SV_IFACE.
func helperInject(t *testing.T) error {
	dst, err := net.ParseMAC(os.Getenv("SV_DSTMAC"))
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(os.Getenv("SV_IFACE"))
	if err != nil {
		return err
	}
	tp, err := afpacket.NewTPacket(afpacket.OptInterface(ifi.Name))
	if err != nil {
		return err
	}
	defer tp.Close()
	frame := bpfFrame(t, &layers.Ethernet{SrcMAC: ifi.HardwareAddr, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4},
		bpfIPv4("192.168.20.2", "10.9.20.1", layers.IPProtocolUDP), bpfUDP(40000, liveMarker), bpfPayload(32))
	for range 3 {
		if err := tp.WritePacketData(frame); err != nil {
			return err
		}
	}
	return nil
}
