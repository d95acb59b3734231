package traffic

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gopacket/gopacket/pcapgo"
)

// rpRecord is one record as a reader returned it, or the error that ended
// the reading.
type rpRecord struct {
	data          string
	sec, nsec     int64
	capLen, wire  int
	end           string // "", "EOF", "unexpected EOF" or "error"
	headerRefused bool
}

// rpEnd classifies the error that ends a reading as Analyze does.
func rpEnd(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	}
	return "error"
}

// rpReadAll reads the records of a pcap file with pcapgo (size 0) or the
// pcapReader with a buffer of size bytes, at most limit of them.
func rpReadAll(data []byte, size int, limit int) []rpRecord {
	var src packetSource
	if size > 0 {
		pr, err := newPcapReader(nil, bytes.NewReader(data), size)
		if err != nil {
			return []rpRecord{{headerRefused: true}}
		}
		src = pr
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			return []rpRecord{{headerRefused: true}}
		}
		src = pr
	}
	var out []rpRecord
	for len(out) < limit {
		d, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			return append(out, rpRecord{end: rpEnd(err)})
		}
		out = append(out, rpRecord{
			data: string(d), sec: ci.Timestamp.Unix(), nsec: int64(ci.Timestamp.Nanosecond()),
			capLen: ci.CaptureLength, wire: ci.Length,
		})
	}
	return out
}

// rpCompare fails the test when the two readers differ on data, the
// pcapReader having a buffer of size bytes.
func rpCompare(t *testing.T, name string, data []byte, size int) {
	t.Helper()
	want, got := rpReadAll(data, 0, 1<<20), rpReadAll(data, size, 1<<20)
	if len(want) != len(got) {
		t.Fatalf("%s: pcapReader read %d records (ended %+v), pcapgo %d (ended %+v)", name, len(got), got[len(got)-1], len(want), want[len(want)-1])
	}
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("%s: record %d: pcapReader %+v, pcapgo %+v", name, i, got[i], want[i])
		}
	}
}

// rpPcap builds a pcap file: big endian or not, nanosecond timestamps or
// not, with the records given (each its capture and wire length, filled
// with a pattern).
func rpPcap(big, nano bool, snaplen uint32, recs ...[2]uint32) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if big {
		order = binary.BigEndian
	}
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, 1)
	for i, r := range recs {
		b = order.AppendUint32(b, 1_700_000_000+uint32(i))
		b = order.AppendUint32(b, 999_999+uint32(i)*7919) // invalid counts too
		b = order.AppendUint32(b, r[0])
		b = order.AppendUint32(b, r[1])
		for j := range r[0] {
			b = append(b, byte(i+int(j)))
		}
	}
	return b
}

// TestPcapReaderMatchesPcapgo reads every classic pcap capture, synthetic
// files of both byte orders and resolutions, and every truncation of them,
// with the pcapReader and with pcapgo: same records, same timestamps, same
// lengths, same end.
func TestPcapReaderMatchesPcapgo(t *testing.T) {
	files := map[string][]byte{}
	for _, path := range anCaptures(t) {
		if strings.HasSuffix(path, ".pcap") {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(path)] = data
		}
	}
	if len(files) == 0 {
		t.Fatal("no classic pcap among the captures")
	}
	for _, big := range []bool{false, true} {
		for _, nano := range []bool{false, true} {
			name := fmt.Sprintf("synthetic big=%v nano=%v", big, nano)
			files[name] = rpPcap(big, nano, 65535, [2]uint32{60, 60}, [2]uint32{0, 0}, [2]uint32{100, 1500},
				[2]uint32{70, 60}, [2]uint32{20, 20})
		}
	}
	// Larger than the buffer; beyond what pcapgo accepts whatever the snap
	// length; longer than its snap length but under 256 KiB.
	files["record above the buffer"] = rpPcap(false, false, 4<<20, [2]uint32{10, 10}, [2]uint32{3 << 20, 3 << 20}, [2]uint32{10, 10})
	files["record above 256 KiB"] = rpPcap(false, false, 1500, [2]uint32{10, 10}, [2]uint32{300 << 10, 300 << 10})
	files["record above snaplen"] = rpPcap(false, false, 64, [2]uint32{100, 100}, [2]uint32{10, 10})
	for name, data := range files {
		rpCompare(t, name, data, pcapBufferSize)
		rpCompare(t, name, data, 100)
		// Truncations: within the first records, and near the end.
		for n := 0; n < len(data); n++ {
			if n < 400 || len(data)-n < 200 && len(data) < 100<<10 {
				rpCompare(t, fmt.Sprintf("%s cut at %d", name, n), data[:n], 200)
			}
		}
	}
}

// TestPcapReaderSmallReads reads a capture through readers that return one
// byte at a time and that fail midway.
func TestPcapReaderSmallReads(t *testing.T) {
	data := rpPcap(false, false, 65535, [2]uint32{60, 60}, [2]uint32{1500, 1500}, [2]uint32{0, 0}, [2]uint32{40, 40})
	pr, err := newPcapReader(nil, iotest.OneByteReader(bytes.NewReader(data)), 100)
	if err != nil {
		t.Fatal(err)
	}
	var lens []int
	for {
		d, _, err := pr.ZeroCopyReadPacketData()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("after %v: %v, want io.EOF", lens, err)
			}
			break
		}
		lens = append(lens, len(d))
	}
	if fmt.Sprint(lens) != "[60 1500 0 40]" {
		t.Errorf("records %v, want [60 1500 0 40]", lens)
	}

	broken := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(data[:24+16+60+10]), iotest.ErrReader(broken))
	pr, err = newPcapReader(nil, r, pcapBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pr.ZeroCopyReadPacketData(); err != nil {
		t.Fatalf("first record: %v", err)
	}
	if _, _, err := pr.ZeroCopyReadPacketData(); !errors.Is(err, broken) {
		t.Errorf("second record: %v, want the read error", err)
	}
}

// TestPcapReaderNoAlloc checks that reading a record allocates nothing.
func TestPcapReaderNoAlloc(t *testing.T) {
	recs := make([][2]uint32, 2000)
	for i := range recs {
		recs[i] = [2]uint32{uint32(60 + i%1400), 1500}
	}
	data := rpPcap(false, true, 65535, recs...)
	pr, err := newPcapReader(nil, bytes.NewReader(data), pcapBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := pr.ZeroCopyReadPacketData(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per record, want 0", allocs)
	}
}

// FuzzReadPcap compares the pcapReader with pcapgo on arbitrary input,
// seeded with the real captures (their first 2 KiB) and synthetic files.
func FuzzReadPcap(f *testing.F) {
	for _, path := range anCaptures(f) {
		if data, err := os.ReadFile(path); err == nil && strings.HasSuffix(path, ".pcap") {
			f.Add(data[:min(len(data), 2<<10)])
		}
	}
	f.Add(rpPcap(true, true, 64, [2]uint32{60, 60}, [2]uint32{100, 60}))
	f.Add(rpPcap(false, false, 65535, [2]uint32{1, 1}, [2]uint32{0, 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return // gzip: Analyze gives it to pcapgo
		}
		rpCompare(t, "input", data, 256)
	})
}
