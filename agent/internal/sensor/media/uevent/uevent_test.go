package uevent

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func msg(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Event
		wantErr string
	}{
		{
			name: "usb stick partition",
			in: msg("add@/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1",
				"ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1",
				"SUBSYSTEM=block", "MAJOR=8", "MINOR=17", "DEVNAME=sdb1", "DEVTYPE=partition", "PARTN=1", "SEQNUM=4711"),
			want: Event{Action: "add", DevPath: "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1",
				Subsystem: "block", DevType: "partition", DevName: "sdb1", Seq: 4711},
		},
		{name: "udev message", in: append([]byte("libudev\x00\xfe\xed\xca\xfe"), msg("ACTION=add")...), wantErr: "not a kernel uevent"},
		{name: "garbage", in: []byte("\x01\x02\x03"), wantErr: "not a kernel uevent"},
		{name: "empty", in: nil, wantErr: "not a kernel uevent"},
		{name: "field without key", in: msg("add@/devices/x", "ACTION=add", "=oops"), wantErr: "no key"},
		{name: "disagreeing header", in: msg("add@/devices/x", "ACTION=remove", "DEVPATH=/devices/x"), wantErr: "disagrees"},
		{name: "bad seqnum", in: msg("add@/devices/x", "ACTION=add", "SEQNUM=x1"), wantErr: "SEQNUM"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: Parse = %+v, %v; want error containing %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Parse error %v", tt.name, err)
			continue
		}
		if got.Env["MAJOR"] == "" && tt.name == "usb stick partition" {
			t.Errorf("%s: Env lacks MAJOR: %v", tt.name, got.Env)
		}
		got.Env = nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Parse = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if _, err := Parse(msg("ACTION=add")); !errors.Is(err, ErrNotKernel) {
		t.Errorf("Parse without header = %v, want ErrNotKernel", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(msg("add@/devices/x/block/sdb", "ACTION=add", "DEVPATH=/devices/x/block/sdb", "SUBSYSTEM=block", "SEQNUM=1"))
	f.Add([]byte("libudev\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Parse(b)
		if err == nil && (ev.Action == "" || !strings.HasPrefix(ev.DevPath, "/")) {
			t.Errorf("Parse(%q) accepted an event without action or path: %+v", b, ev)
		}
	})
}
