package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary a small network helper instead of a test
// run: a test starts it inside a network namespace with `ip netns exec`.
const helperEnv = "SONEVAKT_E2E_HELPER"

// runHelper runs one helper mode: "listen" accepts TCP connections on addr
// and reads each to its end; "dial" connects to addr, writes 4 KiB and
// closes; "udp" sends 10 datagrams to addr.
func runHelper(mode, addr string) int {
	switch mode {
	case "listen":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper listen:", err)
			return 1
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				return 1
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper dial:", err)
			return 1
		}
		_, err = c.Write(make([]byte, 4096))
		c.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper write:", err)
			return 1
		}
		return 0
	case "udp":
		c, err := net.Dial("udp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper udp:", err)
			return 1
		}
		for range 10 {
			_, _ = c.Write([]byte("sonevakt"))
		}
		c.Close()
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
	return 2
}

// segment is a network namespace joined to the test's own namespace by a
// veth pair: Host is the address on the test's side (Link), Peer the one
// inside the namespace (PeerLink), in different subnets routed over the
// link, so that traffic between them crosses zones.
type segment struct {
	t              testing.TB
	NS             string
	Link, PeerLink string
	Host, Peer     string
	PeerMAC        string
}

// newSegment creates the namespace and the veth pair, and removes both when
// the test ends. It needs root and iproute2.
func newSegment(t testing.TB, host, peer string) *segment {
	t.Helper()
	needNetns(t)
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	s := &segment{t: t, NS: "sv-e2e-" + id, Link: "sve" + id, PeerLink: "svp" + id, Host: host, Peer: peer}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", s.Link).Run()
		_ = exec.Command("ip", "netns", "del", s.NS).Run()
	})
	hostNet, peerNet := subnet24(host), subnet24(peer)
	for _, args := range [][]string{
		{"netns", "add", s.NS},
		{"link", "add", s.Link, "type", "veth", "peer", "name", s.PeerLink},
		{"link", "set", s.PeerLink, "netns", s.NS},
		{"addr", "add", host + "/24", "dev", s.Link},
		{"link", "set", s.Link, "up"},
		{"route", "add", peerNet, "dev", s.Link},
		{"-n", s.NS, "addr", "add", peer + "/24", "dev", s.PeerLink},
		{"-n", s.NS, "link", "set", s.PeerLink, "up"},
		{"-n", s.NS, "link", "set", "lo", "up"},
		{"-n", s.NS, "route", "add", hostNet, "dev", s.PeerLink},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	mac, err := exec.Command("ip", "netns", "exec", s.NS, "cat", "/sys/class/net/"+s.PeerLink+"/address").Output()
	if err != nil {
		t.Fatalf("peer MAC: %v", err)
	}
	s.PeerMAC = strings.TrimSpace(string(mac))
	return s
}

// needNetns skips a test that needs root and iproute2, unless CI=true.
func needNetns(t testing.TB) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if os.Geteuid() != 0 {
		fail("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		fail("ip not installed (iproute2; scripts/test-deps.sh installs it)")
	}
}

// subnet24 returns the /24 an IPv4 address is in.
func subnet24(a string) string {
	ip := net.ParseIP(a).To4()
	return fmt.Sprintf("%d.%d.%d.0/24", ip[0], ip[1], ip[2])
}

// inNS starts the test binary as a helper inside the namespace.
func (s *segment) inNS(mode, addr string) *exec.Cmd {
	cmd := exec.Command("ip", "netns", "exec", s.NS, os.Args[0], addr)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// serve runs a TCP listener inside the namespace until the test ends.
func (s *segment) serve(addr string) {
	s.t.Helper()
	cmd := s.inNS("listen", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 32)
	if n, err := out.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "listening") {
		s.t.Fatalf("helper listener in %s: %q, %v", s.NS, buf[:n], err)
	}
}

// run runs a helper inside the namespace to its end.
func (s *segment) run(mode, addr string) {
	s.t.Helper()
	if out, err := s.inNS(mode, addr).CombinedOutput(); err != nil {
		s.t.Fatalf("helper %s %s in %s: %v: %s", mode, addr, s.NS, err, out)
	}
}
