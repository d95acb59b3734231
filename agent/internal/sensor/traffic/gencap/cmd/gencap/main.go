// Command gencap writes a synthetic pcap capture for the traffic benchmarks
// (see package gencap), and optionally the zones file that matches it.
//
//	go run ./agent/internal/sensor/traffic/gencap/cmd/gencap --packets 2000000 --flows 100000 --out x.pcap --zones zones.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/traffic/gencap"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gencap:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gencap", flag.ContinueOnError)
	var opts gencap.Options
	fs.IntVar(&opts.Packets, "packets", 2_000_000, "packets to write")
	fs.IntVar(&opts.Flows, "flows", 100_000, "flows (distinct 5-tuples) the packets belong to")
	fs.Int64Var(&opts.Seed, "seed", 1, "seed: the same flags give the same file")
	fs.Float64Var(&opts.IPv6Share, "ipv6", 0.2, "fraction of flows over IPv6")
	fs.Float64Var(&opts.VLANShare, "vlan", 0.1, "fraction of flows in a VLAN tag")
	out := fs.String("out", "", "capture file to write (required)")
	zones := fs.String("zones", "", "also write the matching zones file here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("want --out FILE and no arguments")
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create capture: %w", err)
	}
	st, err := gencap.Write(f, opts)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close capture %s: %w", *out, cerr)
	}
	if err != nil {
		return err
	}
	if *zones != "" {
		if err := os.WriteFile(*zones, gencap.ZonesYAML(), 0o644); err != nil {
			return fmt.Errorf("write zones file: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "%s: %d packets, %d flows (tcp %d, udp %d, icmp %d; ipv6 %d, vlan %d), %.1f MB on the wire, %.1f MB written\n",
		*out, st.Packets, st.Flows, st.TCP, st.UDP, st.ICMP, st.IPv6, st.VLAN, float64(st.WireBytes)/1e6, float64(st.FileBytes)/1e6)
	return nil
}
