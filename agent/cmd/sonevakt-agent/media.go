package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/media"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const mediaUsage = `Usage:
  sonevakt-agent media scan [--sysfs DIR] [--include-loop] [--label-pattern P] [--marker-file NAME] [--json]
  sonevakt-agent media probe FILE [--label-pattern P] [--marker-file NAME] [--json]
`

// mediaCmd runs the media verbs: scan lists the removable media attached
// now, probe reads the facts of one image file or device.
func mediaCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mediaUsage)
		return fmt.Errorf("media needs scan or probe: %w", errUsage)
	}
	switch args[0] {
	case "scan":
		return mediaScan(args[1:], stdout, stderr)
	case "probe":
		return mediaProbe(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, mediaUsage)
		return nil
	}
	fmt.Fprint(stderr, mediaUsage)
	return fmt.Errorf("unknown media command %q: %w", args[0], errUsage)
}

// markingFlags are the policy fields that say how media are marked.
func markingFlags(fs *flag.FlagSet, p *wire.MediaPolicy) {
	fs.StringVar(&p.LabelPattern, "label-pattern", "", "volume label `PATTERN` that marks a medium (NK-*)")
	fs.StringVar(&p.MarkerFile, "marker-file", "", "`NAME` of the marker file at a volume's root (SONEVAKT.TXT)")
}

// parseInterspersed parses flags and positional arguments in any order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%v: %w", err, errUsage)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func mediaScan(args []string, stdout, stderr io.Writer) error {
	var sysfs string
	var loop, asJSON bool
	var p wire.MediaPolicy
	if _, err := flags("media scan", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&sysfs, "sysfs", "", "list the media of the sysfs tree in `DIR` (identity and partitions only) instead of this machine's")
		fs.BoolVar(&loop, "include-loop", false, "list loop devices with a backing file too")
		markingFlags(fs, &p)
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	live := true
	if sysfs != "" {
		st, err := os.Stat(sysfs)
		if err != nil || !st.IsDir() {
			return fmt.Errorf("--sysfs %s: not a directory: %w", sysfs, errUsage)
		}
		if sys, err := os.Stat("/sys"); err != nil || !os.SameFile(st, sys) {
			live = false // device nodes in /dev belong to another tree
		}
	}
	devs, err := media.Scan(media.ScanOptions{SysRoot: sysfs, IncludeLoop: loop, ReadVolumes: live, Policy: p})
	if err != nil {
		return fmt.Errorf("media scan: %w", err)
	}
	if devs == nil {
		devs = []wire.MediaDevice{}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Devices []wire.MediaDevice `json:"devices"`
		}{devs})
	}
	printDevices(stdout, devs, live)
	return nil
}

// printDevices prints one table of the media and one of their volumes,
// then what could not be read.
func printDevices(w io.Writer, devs []wire.MediaDevice, facts bool) {
	if len(devs) == 0 {
		fmt.Fprintln(w, "no removable media attached")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tCLASS\tBUS\tVID:PID\tVENDOR\tPRODUCT\tSERIAL\tSIZE")
	for _, d := range devs {
		id := "-"
		if d.VID != "" || d.PID != "" {
			id = d.VID + ":" + d.PID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Class, dash(d.Bus), id, dash(d.Vendor), dash(d.Product), dash(d.Serial), size(d.SizeBytes))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if facts {
		fmt.Fprintln(tw, "VOLUME\tDEVICE\tSIZE\tTYPE\tLABEL\tUUID\tENCRYPTED\tMARKING\tMOUNTED")
	} else {
		fmt.Fprintln(tw, "VOLUME\tDEVICE\tSIZE")
	}
	var notes []string
	for _, d := range devs {
		for _, u := range d.Unknown {
			notes = append(notes, d.Name+": "+u)
		}
		for _, v := range d.Volumes {
			if !facts {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, d.Name, size(v.SizeBytes))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, d.Name, size(v.SizeBytes), dash(v.FSType), dash(v.Label),
				dash(v.UUID), encrypted(v), markingText(v), dash(v.MountPoint))
			for _, p := range v.Problems {
				notes = append(notes, v.Name+": "+p)
			}
		}
	}
	tw.Flush()
	if !facts {
		fmt.Fprintln(w, "\nvolumes not read: their device nodes are not this machine's")
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}

func mediaProbe(args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var p wire.MediaPolicy
	fs := flag.NewFlagSet("sonevakt-agent media probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sonevakt-agent media probe FILE [--label-pattern P] [--marker-file NAME] [--json]")
		fs.PrintDefaults()
	}
	markingFlags(fs, &p)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("media probe needs one FILE (an image or a device), got %d: %w", len(pos), errUsage)
	}
	file := pos[0]
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("media probe %s: %v: %w", file, unwrapPath(err), errUsage)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("media probe %s: is a directory, want an image file or a device: %w", file, errUsage)
	}
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("media probe %s: size: %v: %w", file, err, errUsage)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); err != nil && n > 0 {
		return fmt.Errorf("media probe %s: %v: %w", file, unwrapPath(err), errUsage)
	}
	v := media.ReadVolume(f, n, file, p)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s\n", file)
	fmt.Fprintf(tw, "size:\t%s (%d bytes)\n", size(v.SizeBytes), v.SizeBytes)
	fmt.Fprintf(tw, "type:\t%s\n", dash(v.FSType))
	fmt.Fprintf(tw, "label:\t%s\n", dash(v.Label))
	fmt.Fprintf(tw, "uuid:\t%s\n", dash(v.UUID))
	fmt.Fprintf(tw, "encrypted:\t%s\n", v.Encrypted)
	fmt.Fprintf(tw, "encryption:\t%s\n", dash(v.Encryption))
	mark := markingText(v)
	switch {
	case v.Marking == nil && v.MarkingChecked && p.LabelPattern == "" && p.MarkerFile == "":
		mark = "none (no --label-pattern or --marker-file given)"
	case !v.MarkingChecked && p.MarkerFile != "":
		mark += " (" + p.MarkerFile + " is read raw from FAT and exFAT only; the agent reads it through the mount point)"
	}
	fmt.Fprintf(tw, "marking:\t%s\n", mark)
	if len(v.Problems) == 0 {
		fmt.Fprintf(tw, "problems:\tnone\n")
	}
	for i, pr := range v.Problems {
		head := ""
		if i == 0 {
			head = "problems:"
		}
		fmt.Fprintf(tw, "%s\t%s\n", head, pr)
	}
	return tw.Flush()
}

// unwrapPath drops the operation and path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// markingText says how a volume is marked: "label NK-0042", "file NK-0042
// (fortrolig)", "none" once looked for, "not checked" before.
func markingText(v wire.MediaVolume) string {
	switch {
	case v.Marking != nil:
		s := v.Marking.Source + " " + v.Marking.ID
		if v.Marking.Classification != "" {
			s += " (" + v.Marking.Classification + ")"
		}
		return s
	case v.MarkingChecked:
		return "none"
	}
	return "not checked"
}

func encrypted(v wire.MediaVolume) string {
	if v.Encryption != "" {
		return v.Encrypted + " (" + v.Encryption + ")"
	}
	return v.Encrypted
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// size prints a byte count in decimal units, as drives are sold.
func size(n uint64) string {
	if n == 0 {
		return "-"
	}
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
