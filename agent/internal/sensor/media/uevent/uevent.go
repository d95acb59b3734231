// Package uevent receives the kernel's device events (uevents) straight from
// the NETLINK_KOBJECT_UEVENT socket, without a udev daemon, and parses them.
// It owns only the transport and the message format; judging devices is the
// media sensor's business.
package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Event is one kernel uevent.
type Event struct {
	Action    string // add, remove, change, bind, unbind, move, online, offline
	DevPath   string // below /sys: /devices/…/block/sdb
	Subsystem string // block, usb, scsi …
	DevType   string // disk, partition, usb_device, usb_interface …
	DevName   string // sdb, sdb1 (below /dev)
	Seq       uint64 // SEQNUM, increasing per boot
	Env       map[string]string
}

// ErrNotKernel marks messages that are not kernel uevents (udev's own
// "libudev" messages on the other multicast group, garbage).
var ErrNotKernel = errors.New("not a kernel uevent")

// Parse parses one kernel message: "ACTION@DEVPATH\0KEY=VALUE\0…".
func Parse(b []byte) (Event, error) {
	if bytes.HasPrefix(b, []byte("libudev")) {
		return Event{}, ErrNotKernel
	}
	head, rest, _ := bytes.Cut(b, []byte{0})
	action, devpath, ok := strings.Cut(string(head), "@")
	if !ok || action == "" || !strings.HasPrefix(devpath, "/") {
		return Event{}, fmt.Errorf("%w: header %.64q", ErrNotKernel, head)
	}
	ev := Event{Env: map[string]string{}}
	for _, kv := range bytes.Split(rest, []byte{0}) {
		if len(kv) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok || len(k) == 0 {
			return Event{}, fmt.Errorf("uevent %s@%s: field %.64q has no key", action, devpath, kv)
		}
		ev.Env[string(k)] = string(v)
	}
	ev.Action, ev.DevPath = ev.Env["ACTION"], ev.Env["DEVPATH"]
	if ev.Action == "" {
		ev.Action = action
	}
	if ev.DevPath == "" {
		ev.DevPath = devpath
	}
	if ev.Action != action || ev.DevPath != devpath {
		return Event{}, fmt.Errorf("uevent header %s@%s disagrees with ACTION=%s DEVPATH=%s", action, devpath, ev.Action, ev.DevPath)
	}
	ev.Subsystem, ev.DevType, ev.DevName = ev.Env["SUBSYSTEM"], ev.Env["DEVTYPE"], ev.Env["DEVNAME"]
	if s := ev.Env["SEQNUM"]; s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Event{}, fmt.Errorf("uevent %s@%s: SEQNUM %q: %v", action, devpath, s, err)
		}
		ev.Seq = n
	}
	return ev, nil
}
