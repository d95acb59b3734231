package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/traffic"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// trafficMaxRows bounds the flows the readable output lists when there is
// no zones file (every flow then stays in the one zone "external").
const trafficMaxRows = 50

// trafficCmd analyses a capture file: the flows between zones with their
// verdicts against the firewall map, and the devices discovered.
func trafficCmd(args []string, stdout, stderr io.Writer) error {
	var pcap, zonesFile string
	var asJSON bool
	if _, err := flags("traffic", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&pcap, "pcap", "", "capture `FILE` to analyse (pcap, pcap.gz or pcapng)")
		fs.StringVar(&zonesFile, "zones", "", "zones `FILE` (YAML: zones and firewall map); without it every address is external")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	if pcap == "" {
		return fmt.Errorf("traffic needs --pcap FILE: %w", errUsage)
	}
	var zones *zone.Map
	if zonesFile != "" {
		var err error
		if zones, err = zone.Load(zonesFile); err != nil {
			return err
		}
	}
	f, err := os.Open(pcap)
	if err != nil {
		return fmt.Errorf("traffic --pcap %s: %v: %w", pcap, unwrapPath(err), errUsage)
	}
	defer f.Close()
	// The vendor list takes tens of milliseconds to load: only a capture
	// with discovery traffic loads it.
	var disc *traffic.Discoverer
	discover := func(p *traffic.Packet) {
		if disc == nil {
			if !traffic.IsDiscovery(p) {
				return
			}
			disc = traffic.NewDiscoverer(traffic.DefaultOUI())
		}
		disc.Observe(p)
	}
	rep, err := traffic.Analyze(f, traffic.AnalyzeOptions{Zones: zones, Discover: discover})
	if err != nil {
		if errors.Is(err, traffic.ErrNotCapture) {
			return fmt.Errorf("traffic --pcap %s: %v: %w", pcap, err, errUsage)
		}
		return fmt.Errorf("analyse %s: %w", pcap, err)
	}
	if disc != nil {
		if devs := disc.Devices(); devs != nil {
			rep.Devices = devs
		}
	}
	if asJSON {
		return rep.WriteJSON(stdout)
	}
	printTraffic(stdout, pcap, rep, zones != nil)
	return nil
}

// printTraffic prints a report as tables: the zone matrix, the cross-zone
// flows with their verdicts (all flows when there are no zones), the
// devices.
func printTraffic(w io.Writer, name string, rep *traffic.Report, zoned bool) {
	var skipped uint64
	for _, n := range rep.Skipped {
		skipped += n
	}
	fmt.Fprintf(w, "%s: %d packets read, %d in %d flows, %d skipped\n", name, rep.Packets, rep.Packets-skipped, len(rep.Flows), skipped)
	reasons := make([]string, 0, len(rep.Skipped))
	for r := range rep.Skipped {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  skipped %d: %s\n", rep.Skipped[r], r)
	}
	if rep.Evicted > 0 {
		fmt.Fprintf(w, "  %d flows evicted from a full table: counts are incomplete\n", rep.Evicted)
	}

	fmt.Fprintln(w, "\nZone matrix (from the zone that opened the flows)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FROM\tTO\tFLOWS\tPACKETS\tBYTES\tDENIED\t")
	for _, c := range rep.ZoneMatrix {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", c.From, c.To, c.Flows, c.Packets, c.Bytes, c.Denied)
	}
	tw.Flush()

	flows := rep.Flows
	title := "Cross-zone flows"
	if zoned {
		flows = slices.DeleteFunc(slices.Clone(flows), func(f traffic.ReportFlow) bool { return !f.CrossZone })
	} else {
		title = "Flows (no --zones: every address is in zone external, nothing is judged)"
	}
	fmt.Fprintf(w, "\n%s: %d\n", title, len(flows))
	if len(flows) > 0 {
		more := 0
		if !zoned && len(flows) > trafficMaxRows {
			more, flows = len(flows)-trafficMaxRows, flows[:trafficMaxRows]
		}
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PROTO\tSOURCE\tDESTINATION\tZONES\tPACKETS\tBYTES\tVERDICT\tRULE")
		for _, f := range flows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s -> %s\t%d\t%d\t%s\t%s\n", f.Proto, hostPort(f.Src, f.SPort, f.Proto), hostPort(f.Dst, f.DPort, f.Proto),
				f.SrcZone, f.DstZone, f.Packets, f.Bytes, f.Verdict, dash(f.Rule))
		}
		tw.Flush()
		if more > 0 {
			fmt.Fprintf(w, "... and %d more (--json lists them all)\n", more)
		}
	}

	fmt.Fprintf(w, "\nDevices: %d\n", len(rep.Devices))
	if len(rep.Devices) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MAC\tADDRESSES\tNAME\tVENDOR\tSEEN BY")
		for _, d := range rep.Devices {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.MAC, dash(strings.Join(d.IPs, ",")), dash(d.Name), dash(d.Vendor), strings.Join(d.SeenBy, ","))
		}
		tw.Flush()
	}
}

// hostPort writes an address with its port (ICMP flows have none).
func hostPort(addr string, port uint16, proto string) string {
	if proto != wire.ProtoTCP && proto != wire.ProtoUDP {
		return addr
	}
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + strconv.Itoa(int(port))
	}
	return addr + ":" + strconv.Itoa(int(port))
}
