package traffic

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// source is a live capture on one interface. It is used by one goroutine
// only: ReadPacket, Stats and Close are never called concurrently.
type source interface {
	// ReadPacket returns the next frame. The data stays valid only until
	// the next call. When no frame arrives within the poll timeout it
	// returns errTimeout, so that the caller can look at its context.
	ReadPacket() (data []byte, ci gopacket.CaptureInfo, err error)
	// LinkType is the frames' link layer.
	LinkType() layers.LinkType
	// Stats are the packets the capture saw and those it dropped (the
	// kernel's or the driver's count), since it was opened.
	Stats() (packets, dropped uint64)
	Close() error
}

// captureConfig is how a live capture is opened.
type captureConfig struct {
	Snaplen int  // bytes kept of each frame
	Promisc bool // put the interface in promiscuous mode
	// RingBytes is the size of the kernel's capture ring (Linux) or
	// driver buffer (Windows).
	RingBytes int
	// Exclude is TCP and UDP traffic to drop in the kernel: the agent's
	// own uplink.
	Exclude []netip.AddrPort
	// PollTimeout bounds how long ReadPacket waits for a frame.
	PollTimeout time.Duration
}

// Default capture settings.
const (
	defaultSnaplen     = 256
	defaultRingBytes   = 4 << 20
	defaultPollTimeout = 200 * time.Millisecond
)

// errTimeout is what a source's ReadPacket returns when no frame came
// within its poll timeout.
var errTimeout = errors.New("no packet within the poll timeout")

// Errors that explain why live capture cannot run; they end up in
// CaptureStats.Error.
var (
	// ErrNoPrivilege: the agent may not open a raw socket.
	ErrNoPrivilege = errors.New("live capture needs CAP_NET_RAW (run as root or grant the capability)")
	// ErrNpcapMissing: wpcap.dll could not be loaded on Windows.
	ErrNpcapMissing = errors.New("Npcap is not installed (https://npcap.com); traffic capture is off")
	// ErrUnsupported: this operating system has no live capture.
	ErrUnsupported = errors.New("live capture is not supported")
)

// captureRing returns the ring's frame size, block size and number of
// blocks for a snap length and a total size: frames are a power of two
// that holds the snap length and the kernel's headers, blocks 256 KiB or
// one frame, and there are at least two blocks.
func captureRing(snaplen, ringBytes int) (frame, block, blocks int) {
	frame = 512
	for frame < snaplen+128 {
		frame *= 2
	}
	block = max(256<<10, frame)
	blocks = max(2, ringBytes/block)
	return frame, block, blocks
}

// cmpOr returns v when it is positive, def otherwise.
func cmpOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// A worker captures on one interface. Its goroutine owns the capture, the
// decoder, the flow table and the discoverer; the sensor's goroutine only
// hands it requests for reports and takes the results, so the packet path
// takes no lock: between two packets the worker looks at one atomic flag.
type worker struct {
	ctx    context.Context
	cancel context.CancelFunc
	iface  string
	source string // "capture:IFACE"
	log    *slog.Logger
	now    func() time.Time
	open   func() (source, error)

	signal  atomic.Bool  // a request waits, or ctx ended
	reqs    chan request // at most one outstanding
	results chan result

	// Owned by the worker's goroutine.
	dec        *Decoder
	table      *Table
	disc       *Discoverer
	pkt        Packet
	zones      *zone.Map
	start      time.Time // of the interval
	packets    uint64
	skipped    map[string]uint64
	dropSeen   uint64 // the capture's drop count at the last report
	err        error  // why the capture is not running
	errLogged  string
	lastExpire time.Time
}

// request asks a worker for the report of the interval ending at now.
type request struct {
	now     time.Time
	zones   *zone.Map
	version uint64
}

// result is a worker's report.
type result struct {
	flows   wire.Flows
	devices []wire.Neighbour
}

// newWorker prepares the capture on iface; run starts it.
func (s *Sensor) newWorker(ctx context.Context, iface string, maxFlows int, zones *zone.Map) *worker {
	wctx, cancel := context.WithCancel(ctx)
	w := &worker{
		ctx: wctx, cancel: cancel, iface: iface, source: "capture:" + iface,
		log: s.log.With("interface", iface), now: s.now,
		reqs: make(chan request, 1), results: make(chan result, 1),
		dec: NewDecoder(),
		table: NewTable(TableConfig{MaxFlows: maxFlows, IdleTimeout: s.opts.IdleTimeout,
			ActiveTimeout: s.opts.ActiveTimeout, Zones: zones}),
		disc: NewDiscoverer(s.oui), zones: zones, start: s.now(), skipped: map[string]uint64{},
	}
	w.open = func() (source, error) {
		return s.open(iface, captureConfig{Snaplen: s.opts.Snaplen, Promisc: s.opts.Promisc,
			RingBytes: s.opts.RingBytes, Exclude: s.resolveExclude(wctx), PollTimeout: defaultPollTimeout})
	}
	return w
}

// ask hands the worker a request; the result comes on w.results.
func (w *worker) ask(r request) {
	w.reqs <- r
	w.signal.Store(true)
}

// stop ends the worker's goroutine (within a poll timeout).
func (w *worker) stop() {
	w.cancel()
	w.signal.Store(true)
}

// run captures until the worker stops. When the capture cannot be opened
// or fails, the worker answers the next request with the error and tries
// again after it: once an interval.
func (w *worker) run() {
	var src source
	defer func() {
		if src != nil {
			src.Close()
		}
	}()
	for try := true; w.ctx.Err() == nil; {
		if src == nil && try {
			try = false
			s, err := w.open()
			if err != nil {
				w.failed(err)
			} else {
				src, w.err, w.errLogged, w.dropSeen = s, nil, "", 0
				w.log.Info("capturing", "link", s.LinkType())
			}
		}
		if src == nil {
			select {
			case <-w.ctx.Done():
				return
			case r := <-w.reqs:
				w.signal.Store(false)
				w.results <- w.report(r, nil)
				try = true
			}
			continue
		}
		if err := w.capture(src); err != nil {
			w.failed(err)
			src.Close()
			src = nil
		}
	}
}

// failed notes why the capture is not running, logging each new reason
// once.
func (w *worker) failed(err error) {
	w.err = err
	if msg := err.Error(); msg != w.errLogged {
		w.errLogged = msg
		w.log.Warn("traffic capture is off; retrying every interval", "err", err)
	}
}

// capture reads packets until the capture fails (the error) or the worker
// stops (nil), answering requests between packets.
func (w *worker) capture(src source) error {
	link := src.LinkType()
	for {
		data, ci, err := src.ReadPacket()
		switch {
		case err == nil:
			w.packet(link, data, &ci)
		case err == errTimeout:
			if now := w.now(); now.Sub(w.lastExpire) >= expireEvery {
				w.table.Expire(now)
				w.lastExpire = now
			}
		default:
			return err
		}
		if w.signal.Load() {
			if w.ctx.Err() != nil {
				return nil
			}
			select {
			case r := <-w.reqs:
				w.signal.Store(false)
				w.results <- w.report(r, src)
			default:
			}
		}
	}
}

// packet takes one frame: decode, count, discover. It allocates nothing
// once the flow and the skip reason are known.
func (w *worker) packet(link layers.LinkType, data []byte, ci *gopacket.CaptureInfo) {
	w.packets++
	if skip := w.dec.Decode(link, data, *ci, &w.pkt); skip != "" {
		w.skipped[skip]++
		return
	}
	if w.pkt.VLAN == 0 && len(ci.AncillaryData) > 0 {
		if v, ok := ancillaryVLAN(ci); ok {
			w.pkt.VLAN = v
		}
	}
	if w.pkt.Src.IsValid() {
		w.table.Add(&w.pkt)
	}
	w.disc.Observe(&w.pkt)
	if ci.Timestamp.Sub(w.lastExpire) >= expireEvery {
		w.table.Expire(ci.Timestamp)
		w.lastExpire = ci.Timestamp
	}
}

// report makes the flows of the interval ending at r.now and takes the
// changed devices. Without a zone map no flow is detailed: the record has
// the stats and the per-zone counts only.
func (w *worker) report(r request, src source) result {
	if r.zones != w.zones {
		w.table.SetZones(r.zones)
		w.zones = r.zones
	}
	f := w.table.Report(r.now, w.source)
	// What the report took can end now: flows idle since before it.
	w.table.Expire(r.now)
	w.lastExpire = r.now
	f.Source = w.source
	if f.Start == 0 {
		f.Start = w.start.UnixNano()
	}
	f.End = r.now.UnixNano()
	f.Stats.Packets = w.packets
	if len(w.skipped) > 0 {
		f.Stats.Skipped = maps.Clone(w.skipped)
		clear(w.skipped)
	}
	if src != nil {
		_, dropped := src.Stats()
		if dropped >= w.dropSeen {
			f.Stats.Dropped = dropped - w.dropSeen
		}
		w.dropSeen = dropped
	}
	if w.err != nil {
		f.Stats.Error = w.err.Error()
	}
	if r.zones == nil {
		f.Flows, f.ZonesVersion = nil, 0
	} else {
		f.ZonesVersion = r.version
	}
	w.packets, w.start = 0, r.now
	return result{flows: f, devices: w.disc.TakeChanged()}
}
