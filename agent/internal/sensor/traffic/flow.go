package traffic

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Table is the flow table: flows keyed by their 5-tuple with both directions
// merged into one entry, each end classified by zone when the flow is
// created. It is bounded: when MaxFlows flows are held, the least recently
// seen one (to a second) gives way, and is counted. A Table is not safe for
// concurrent use; the sensor serialises Add, Report and Expire.
//
// Who opened a flow decides its orientation in reports (Src opened it to
// Dst, DPort is the service's port):
//   - TCP: the sender of a SYN without ACK; the receiver of a SYN+ACK.
//   - ICMP and ICMPv6: the sender of a request (echo, router or neighbour
//     solicitation...), the receiver of a reply.
//   - Otherwise, for a flow first seen mid-stream, the ports decide: the
//     service side is the one with the port below 1024 when only one is
//     (the lower one when both are), or, when both are 1024 or above, the
//     lower port when the other one is ephemeral (49152 or above, IANA's
//     dynamic range, which Windows and most stacks use; Linux starts at
//     32768, but services listen between 32768 and 49151, EtherNet/IP on
//     44818 for one). When the ports tell nothing, the sender of the first
//     packet seen opened it.
//   - A flow to a multicast or broadcast address is opened by its sender.
//
// A later SYN (or SYN+ACK) corrects a guess.
type Table struct {
	cfg   TableConfig
	zones *zone.Map
	index flowIndex
	// Entries live in fixed-size chunks so that the table grows without
	// copying and its memory stays proportional to the flows it holds.
	chunks [][]flowEntry
	free   []int32
	n      int
	// The recency queue: flows in the order they were last seen (to
	// lruGranularity), least recent first from recent[recentHead]. A flow
	// is queued anew each time it moves, under a new seq; only its latest
	// place counts, the others are skipped and dropped when the queue
	// outgrows the flows held. Moving a flow thus appends to the queue
	// instead of touching its neighbours in a list, a cache miss each.
	recent     []recency
	recentHead int
	seq        uint64 // the seq of the last move
	head       int32  // the flow that moved last, or -1

	evicted       uint64
	intervalStart int64
	sink          uint64 // AddBatch's cache warming loads end here

	// Attribute, when set, is called by Report for each flow reported in
	// detail, to fill its Process.
	Attribute func(f *wire.Flow)
}

// TableConfig is how a Table is bounded and judged.
type TableConfig struct {
	// MaxFlows bounds the flows held (DefaultMaxFlows when 0).
	MaxFlows int
	// IdleTimeout ends a flow that saw no packet for that long
	// (DefaultIdleTimeout when 0).
	IdleTimeout time.Duration
	// ActiveTimeout ends the record of a flow that has lasted that long;
	// its next packet starts a new record of the same flow, with First set
	// anew (DefaultActiveTimeout when 0).
	ActiveTimeout time.Duration
	// Zones classifies flow ends and judges cross-zone flows; nil means no
	// zones: every address is "external" and verdicts are VerdictNoMap.
	Zones *zone.Map
	// AllFlows reports flows inside one zone in detail too, not only
	// counted per zone (offline analysis).
	AllFlows bool
}

// Table defaults.
const (
	DefaultMaxFlows      = 1 << 18
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultActiveTimeout = 30 * time.Minute
)

const flowChunk = 4096

// flowKey is a flow's 5-tuple in canonical order: (a, pa) is the smaller
// of the two (address, port) ends. IPv4 addresses are held IPv4-mapped.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
}

// flowEntry is one flow. The counters are those of the current interval.
type flowEntry struct {
	key              flowKey
	vlan             uint16
	initA            bool // the flow was opened from end a
	initKnown        bool // ... as a SYN or a request showed, not as guessed
	used             bool
	za, zb           int32 // zone indexes of ends a and b
	pktsAB, pktsBA   uint64
	bytesAB, bytesBA uint64
	first, last      int64
	touched          int64  // when the flow last moved to the end of the recency queue
	seq              uint64 // the seq of that move: its place in the queue
}

// recency is a place in the recency queue: flow i, moved there by move seq.
type recency struct {
	seq uint64
	i   int32
}

// lruGranularity is how precisely eviction follows recency: a flow seen
// within this time of another may be evicted before it although it was
// seen later.
const lruGranularity = int64(time.Second)

// NewTable returns an empty Table.
func NewTable(cfg TableConfig) *Table {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.ActiveTimeout <= 0 {
		cfg.ActiveTimeout = DefaultActiveTimeout
	}
	return &Table{
		cfg:   cfg,
		zones: cfg.Zones,
		index: newFlowIndex(cfg.MaxFlows),
		head:  -1,
	}
}

func (t *Table) key(i int32) *flowKey { return &t.entry(i).key }

func (t *Table) entry(i int32) *flowEntry {
	return &t.chunks[i/flowChunk][i%flowChunk]
}

// entryAt is entry i, or nil when there is none at i (AddBatch looks
// entries up from stale slots).
func (t *Table) entryAt(i uint32) *flowEntry {
	if c := i / flowChunk; c < uint32(len(t.chunks)) && i%flowChunk < uint32(len(t.chunks[c])) {
		return &t.chunks[c][i%flowChunk]
	}
	return nil
}

// Len returns the number of flows held.
func (t *Table) Len() int { return t.n }

// Evicted returns the flows evicted since the last Report.
func (t *Table) Evicted() uint64 { return t.evicted }

// Add counts one packet into its flow, creating the flow when it is new.
// Packets without IP (Proto 0 and no addresses) are ignored. It allocates
// nothing for a flow that exists.
func (t *Table) Add(p *Packet) {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return
	}
	var pk packetKey
	pk.set(p)
	t.add(p, &pk, t.index.hash(&pk.k))
}

// packetKey is what Add derives from a packet before looking its flow up.
type packetKey struct {
	k            flowKey
	fromA        bool // the packet goes from end a to end b
	icmpReply    bool
	sport, dport uint16 // as keyed: an ICMP reply has its request's type
}

// set derives the flow key of p, whose addresses are valid.
func (pk *packetKey) set(p *Packet) {
	src, dst := p.Src.As16(), p.Dst.As16()
	sport, dport := p.SPort, p.DPort
	icmpReply := false
	if p.Proto == 1 || p.Proto == 58 {
		// Requests and replies are one flow, keyed by the request type.
		dport, _, icmpReply = icmpKeyType(p.Proto, dport)
		sport = 0
	}
	k := &pk.k
	*k = flowKey{proto: p.Proto}
	fromA := true
	if c := cmpEnd(&src, sport, &dst, dport, p.Proto == 1 || p.Proto == 58); c <= 0 {
		k.a, k.pa, k.b, k.pb = src, sport, dst, dport
	} else {
		k.a, k.pa, k.b, k.pb = dst, dport, src, sport
		fromA = false
	}
	if p.Proto == 1 || p.Proto == 58 {
		k.pa, k.pb = 0, dport
	}
	pk.fromA, pk.icmpReply, pk.sport, pk.dport = fromA, icmpReply, sport, dport
}

// addBatchMax is the most packets AddBatch looks up together.
const addBatchMax = 64

// AddBatch adds packets as Add adds each in turn, with the same result. It
// is faster on a large table: it first fetches the table slots of all the
// packets, then their flows, so that the memory accesses of many packets
// overlap instead of waiting for each other.
func (t *Table) AddBatch(ps []Packet) {
	var keys [addBatchMax]packetKey
	var hashes [addBatchMax]uint32
	for len(ps) > 0 {
		n := min(len(ps), addBatchMax)
		batch := ps[:n]
		ps = ps[n:]
		for i := range batch {
			p := &batch[i]
			if p.Src.IsValid() && p.Dst.IsValid() {
				keys[i].set(p)
				hashes[i] = t.index.hash(&keys[i].k)
			}
		}
		// Touch the slots, then the entries they point at. These loads
		// only warm the cache: the adds below do not depend on them.
		var sink uint64
		slots, mask := t.index.slots, t.index.mask
		for i := range batch {
			sink += slots[uint64(hashes[i])&mask]
		}
		for i := range batch {
			s := slots[uint64(hashes[i])&mask]
			if s != 0 && uint32(s>>32) == hashes[i] {
				if e := t.entryAt(uint32(s) - 1); e != nil {
					// Every cache line of the entry.
					sink += uint64(e.key.a[0]) + e.pktsBA + e.seq
				}
			}
		}
		t.sink += sink
		for i := range batch {
			p := &batch[i]
			if p.Src.IsValid() && p.Dst.IsValid() {
				t.add(p, &keys[i], hashes[i])
			}
		}
	}
}

// add is Add of a packet with its key and the key's hash.
func (t *Table) add(p *Packet, pk *packetKey, h uint32) {
	k := &pk.k
	fromA, icmpReply, sport, dport := pk.fromA, pk.icmpReply, pk.sport, pk.dport
	now := p.At.UnixNano()
	if t.intervalStart == 0 {
		t.intervalStart = now
	}
	i, ok := t.index.find(k, h, t.key)
	var e *flowEntry
	if ok {
		e = t.entry(i)
		// A flow moves in the recency queue at most once per
		// lruGranularity: each move takes a place in the queue.
		if now-e.touched >= lruGranularity || now < e.touched {
			t.touch(i, e)
			e.touched = now
		}
	} else {
		i = t.alloc()
		e = t.entry(i)
		*e = flowEntry{key: *k, used: true, vlan: p.VLAN, touched: now}
		e.za = int32(t.zones.ZoneIndex(p.Src))
		e.zb = int32(t.zones.ZoneIndex(p.Dst))
		if !fromA {
			e.za, e.zb = e.zb, e.za
		}
		// The guess; a SYN or a request below overrides it.
		e.initA = fromA == (senderOpened(p.Proto, sport, dport) || toGroup(p.Dst))
		t.index.insert(h, i)
		t.pushFront(i, e)
	}
	if e.first == 0 {
		e.first = now
	}
	e.last = now
	n := uint64(p.Length)
	if fromA {
		e.pktsAB++
		e.bytesAB += n
	} else {
		e.pktsBA++
		e.bytesBA += n
	}
	switch p.Proto {
	case 6:
		switch p.TCPFlags & (FlagSYN | FlagACK) {
		case FlagSYN:
			e.initA, e.initKnown = fromA, true
		case FlagSYN | FlagACK:
			if !e.initKnown {
				e.initA, e.initKnown = !fromA, true
			}
		}
	case 1, 58:
		if !e.initKnown {
			e.initA, e.initKnown = fromA != icmpReply, true
		}
	}
}

// cmpEnd orders the two ends of a packet: negative when (a, pa) comes first.
// ICMP flows order by address only (their "ports" are the message type).
func cmpEnd(a *[16]byte, pa uint16, b *[16]byte, pb uint16, addrOnly bool) int {
	a0, b0 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if a0 != b0 {
		return cmp.Compare(a0, b0)
	}
	a1, b1 := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if a1 != b1 {
		return cmp.Compare(a1, b1)
	}
	if addrOnly {
		return 0
	}
	return cmp.Compare(pa, pb)
}

// senderOpened guesses from the ports whether the sender of a packet opened
// its flow (see Table).
func senderOpened(proto uint8, sport, dport uint16) bool {
	if proto != 6 && proto != 17 {
		return true
	}
	switch {
	case sport == dport:
		return true
	case dport < 1024 && sport < 1024:
		return dport < sport
	case dport < 1024:
		return true
	case sport < 1024:
		return false
	case dport < sport && sport >= ephemeralPorts:
		return true
	case sport < dport && dport >= ephemeralPorts:
		return false
	}
	return true
}

// toGroup reports whether a is a multicast or the IPv4 broadcast address,
// which only receive: their flows are opened by the sender.
func toGroup(a netip.Addr) bool {
	return a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// ephemeralPorts is where the ports that clients take start (see Table).
const ephemeralPorts = 49152

// icmpKeyType maps an ICMP or ICMPv6 type<<8|code to the one its flow is
// keyed by (a reply's request type), and reports whether it is a request or
// a reply. Other messages key by themselves and count as sent by the side
// that opened the flow.
func icmpKeyType(proto uint8, tc uint16) (key uint16, request, reply bool) {
	typ := uint8(tc >> 8)
	if proto == 1 {
		switch typ {
		case 8, 13, 15, 17: // echo, timestamp, information, address mask
			return tc, true, false
		case 0, 14, 16, 18:
			req := map4Reply[typ]
			return uint16(req) << 8, false, true
		}
		return tc, false, false
	}
	switch typ {
	case 128, 133, 135, 130: // echo, router and neighbour solicitation, MLD query
		return tc, true, false
	case 129:
		return 128 << 8, false, true
	case 134:
		return 133 << 8, false, true
	case 136:
		return 135 << 8, false, true
	case 131, 132:
		return 130 << 8, false, true
	}
	return tc, false, false
}

var map4Reply = [256]uint8{0: 8, 14: 13, 16: 15, 18: 17}

// alloc returns a free entry, evicting the least recently seen flow when
// the table is full.
func (t *Table) alloc() int32 {
	if t.n >= t.cfg.MaxFlows {
		i := t.tail()
		t.remove(i)
		t.evicted++
	}
	t.n++
	if k := len(t.free); k > 0 {
		i := t.free[k-1]
		t.free = t.free[:k-1]
		return i
	}
	last := len(t.chunks) - 1
	if last < 0 || len(t.chunks[last]) == flowChunk {
		size := flowChunk
		if len(t.chunks) == 0 {
			size = 64
		}
		t.chunks = append(t.chunks, make([]flowEntry, 0, size))
		last++
	}
	c := t.chunks[last]
	if len(c) == cap(c) {
		// Grow the first chunk up to full size before adding chunks.
		c = slices.Grow(c, min(2*cap(c), flowChunk)-len(c))
	}
	t.chunks[last] = c[:len(c)+1]
	return int32(last*flowChunk + len(c))
}

// remove drops flow i.
func (t *Table) remove(i int32) {
	e := t.entry(i)
	t.index.remove(t.index.hash(&e.key), i)
	*e = flowEntry{} // its places in the recency queue are no longer its
	if t.head == i {
		t.head = -1
	}
	t.free = append(t.free, i)
	t.n--
}

// queued reports whether r is the place of a flow held in the recency
// queue.
func (t *Table) queued(r recency) bool {
	e := t.entry(r.i)
	return e.used && e.seq == r.seq
}

// tail returns the least recently seen flow, or -1 when there is none.
func (t *Table) tail() int32 {
	for ; t.recentHead < len(t.recent); t.recentHead++ {
		if r := t.recent[t.recentHead]; t.queued(r) {
			return r.i
		}
	}
	return -1
}

// pushFront makes flow i the most recently seen.
func (t *Table) pushFront(i int32, e *flowEntry) {
	t.seq++
	e.seq = t.seq
	t.head = i
	if len(t.recent) >= 2*t.n+64 {
		// At least half the queue is stale: keep the places of the
		// flows held, in order. This happens after at least t.n moves.
		q := t.recent[:0]
		for _, r := range t.recent[t.recentHead:] {
			if t.queued(r) {
				q = append(q, r)
			}
		}
		t.recent, t.recentHead = q, 0
	}
	t.recent = append(t.recent, recency{seq: e.seq, i: i})
}

// touch makes flow i the most recently seen.
func (t *Table) touch(i int32, e *flowEntry) {
	if t.head == i {
		return
	}
	t.pushFront(i, e)
}

// Expire ends the flows idle for the idle timeout, and the records of flows
// that lasted the active timeout. A flow with packets not yet reported is
// kept until a Report has taken them: call Report first.
func (t *Table) Expire(now time.Time) {
	ns := now.UnixNano()
	idle, active := int64(t.cfg.IdleTimeout), int64(t.cfg.ActiveTimeout)
	// From the least recently seen: stop at the first flow not idle.
	for _, r := range t.recent[t.recentHead:] {
		if !t.queued(r) {
			continue
		}
		e := t.entry(r.i)
		if ns-e.last < idle {
			break
		}
		if e.pktsAB == 0 && e.pktsBA == 0 {
			t.remove(r.i)
		}
	}
	for c := range t.chunks {
		for j := range t.chunks[c] {
			e := &t.chunks[c][j]
			if e.used && e.first != 0 && ns-e.first >= active && e.pktsAB == 0 && e.pktsBA == 0 {
				e.first = 0
			}
		}
	}
}

// SetZones replaces the zone map and classifies every flow held anew.
func (t *Table) SetZones(m *zone.Map) {
	t.zones = m
	for c := range t.chunks {
		for j := range t.chunks[c] {
			e := &t.chunks[c][j]
			if e.used {
				e.za = int32(m.ZoneIndex(netip.AddrFrom16(e.key.a)))
				e.zb = int32(m.ZoneIndex(netip.AddrFrom16(e.key.b)))
			}
		}
	}
}

// Zones returns the zone map the table classifies by.
func (t *Table) Zones() *zone.Map { return t.zones }

// Report returns the flows active since the last Report with the packets
// and bytes of that interval only, and starts a new interval. Cross-zone
// flows are reported in detail (all flows with AllFlows), judged by the
// firewall map; traffic inside a zone is counted per zone. Flows come in a
// deterministic order: by source, destination, protocol and ports.
func (t *Table) Report(now time.Time, source string) wire.Flows {
	return t.report(now, source, nil)
}

// report is Report handing each flow reported in detail to emit instead of
// returning them, when emit is not nil.
func (t *Table) report(now time.Time, source string, emit func(*wire.Flow)) (out wire.Flows) {
	out = wire.Flows{
		Start:  t.intervalStart,
		End:    now.UnixNano(),
		Source: source,
	}
	nz := t.zones.NumZones()
	zc := make([]wire.ZoneCount, nz)
	var detail []entryOrder
	if t.cfg.AllFlows {
		detail = make([]entryOrder, 0, t.n)
	}
	for c := range t.chunks {
		for j := range t.chunks[c] {
			e := &t.chunks[c][j]
			if !e.used || e.pktsAB == 0 && e.pktsBA == 0 {
				continue
			}
			if e.za == e.zb && int(e.za) < nz {
				z := &zc[e.za]
				z.Flows++
				z.Packets += e.pktsAB + e.pktsBA
				z.Bytes += e.bytesAB + e.bytesBA
				if !t.cfg.AllFlows {
					e.pktsAB, e.pktsBA, e.bytesAB, e.bytesBA = 0, 0, 0, 0
					continue
				}
			}
			detail = append(detail, orderOf(e))
		}
	}
	slices.SortFunc(detail, compareOrders)
	if emit == nil {
		flows := make([]wire.Flow, 0, len(detail))
		emit = func(f *wire.Flow) { flows = append(flows, *f) }
		defer func() {
			if len(flows) > 0 {
				out.Flows = flows
			}
		}()
	}
	for _, d := range detail {
		e := d.e
		f := t.wireFlow(e)
		if t.Attribute != nil {
			t.Attribute(&f)
		}
		emit(&f)
		e.pktsAB, e.pktsBA, e.bytesAB, e.bytesBA = 0, 0, 0, 0
	}
	for i := range zc {
		if zc[i].Flows > 0 {
			zc[i].Zone = t.zones.ZoneByIndex(i).Name
			out.Zones = append(out.Zones, zc[i])
		}
	}
	out.Stats = wire.CaptureStats{Evicted: t.evicted, ActiveFlows: uint64(t.n)}
	t.evicted = 0
	t.intervalStart = out.End
	return out
}

// wireFlow is flow e oriented from the side that opened it, with the
// counts of the interval.
func (t *Table) wireFlow(e *flowEntry) wire.Flow {
	src, dst := netip.AddrFrom16(e.key.a).Unmap(), netip.AddrFrom16(e.key.b).Unmap()
	sp, dp := e.key.pa, e.key.pb
	zs, zd := int(e.za), int(e.zb)
	fwdP, fwdB, revP, revB := e.pktsAB, e.bytesAB, e.pktsBA, e.bytesBA
	if !e.initA {
		src, dst, sp, dp, zs, zd = dst, src, dp, sp, zd, zs
		fwdP, fwdB, revP, revB = revP, revB, fwdP, fwdB
	}
	if e.key.proto == 1 || e.key.proto == 58 {
		sp, dp = 0, e.key.pb
	}
	f := wire.Flow{
		Proto:      ProtoName(e.key.proto),
		Src:        src.String(),
		Dst:        dst.String(),
		SPort:      sp,
		DPort:      dp,
		SrcZone:    t.zones.ZoneByIndex(zs).Name,
		DstZone:    t.zones.ZoneByIndex(zd).Name,
		Packets:    fwdP + revP,
		Bytes:      fwdB + revB,
		RevPackets: revP,
		RevBytes:   revB,
		First:      e.first,
		Last:       e.last,
		VLAN:       e.vlan,
	}
	f.Verdict, f.Rule = t.verdict(zs, zd, e.key.proto, dp)
	return f
}

// verdict judges a flow from zone index from to zone index to.
func (t *Table) verdict(from, to int, proto uint8, port uint16) (verdict, rule string) {
	if t.zones == nil {
		return wire.VerdictNoMap, ""
	}
	if id, ok := t.zones.AllowedIndex(from, to, proto, port); ok {
		return wire.VerdictAllowed, id
	}
	return wire.VerdictDenied, ""
}

// oriented returns a flow's ends from the side that opened it.
func (e *flowEntry) oriented() (src, dst *[16]byte, sport, dport uint16) {
	if e.initA {
		return &e.key.a, &e.key.b, e.key.pa, e.key.pb
	}
	return &e.key.b, &e.key.a, e.key.pb, e.key.pa
}

// compareEntries orders flows as Report does: by source, destination
// (IPv4 before IPv6), protocol name and ports.
func compareEntries(x, y *flowEntry) int {
	xs, xd, xsp, xdp := x.oriented()
	ys, yd, ysp, ydp := y.oriented()
	if c := compareAddr16(xs, ys); c != 0 {
		return c
	}
	if c := compareAddr16(xd, yd); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(ProtoName(x.key.proto), ProtoName(y.key.proto)), cmp.Compare(xsp, ysp), cmp.Compare(xdp, ydp))
}

// entryOrder is a flow with what compareEntries orders it by, computed
// once for sorting.
type entryOrder struct {
	s0, s1, d0, d1 uint64 // source and destination, big endian
	s6, d6         bool   // source and destination are IPv6
	tail           uint64 // protocol name rank, source and destination ports
	e              *flowEntry
}

func orderOf(e *flowEntry) entryOrder {
	src, dst, sp, dp := e.oriented()
	return entryOrder{
		s0: binary.BigEndian.Uint64(src[:8]), s1: binary.BigEndian.Uint64(src[8:]),
		d0: binary.BigEndian.Uint64(dst[:8]), d1: binary.BigEndian.Uint64(dst[8:]),
		s6:   !netip.AddrFrom16(*src).Is4In6(),
		d6:   !netip.AddrFrom16(*dst).Is4In6(),
		tail: uint64(protoRanks[e.key.proto])<<32 | uint64(sp)<<16 | uint64(dp),
		e:    e,
	}
}

// compareOrders orders flows as compareEntries does.
func compareOrders(x, y entryOrder) int {
	switch {
	case x.s6 != y.s6:
		return cmpBool(x.s6)
	case x.s0 != y.s0:
		return cmp.Compare(x.s0, y.s0)
	case x.s1 != y.s1:
		return cmp.Compare(x.s1, y.s1)
	case x.d6 != y.d6:
		return cmpBool(x.d6)
	case x.d0 != y.d0:
		return cmp.Compare(x.d0, y.d0)
	case x.d1 != y.d1:
		return cmp.Compare(x.d1, y.d1)
	}
	return cmp.Compare(x.tail, y.tail)
}

// cmpBool is the comparison of true with false (x) or false with true.
func cmpBool(x bool) int {
	if x {
		return 1
	}
	return -1
}

// protoRanks ranks protocol numbers in the order of their names.
var protoRanks = func() (r [256]uint8) {
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(protoNames[a], protoNames[b]) })
	for rank, p := range order {
		r[p] = uint8(rank)
	}
	return r
}()

// compareAddr16 orders addresses held in 16 bytes as netip.Addr.Compare
// orders them unmapped: IPv4 first.
func compareAddr16(a, b *[16]byte) int {
	a4, b4 := netip.AddrFrom16(*a).Is4In6(), netip.AddrFrom16(*b).Is4In6()
	if a4 != b4 {
		if a4 {
			return -1
		}
		return 1
	}
	return cmpEnd(a, 0, b, 0, true)
}

var protoNames = func() (n [256]string) {
	for i := range n {
		n[i] = strconv.Itoa(i)
	}
	n[6], n[17], n[1], n[58] = wire.ProtoTCP, wire.ProtoUDP, wire.ProtoICMP, wire.ProtoICMPv6
	return n
}()

// ProtoName is the name flows give IP protocol proto: "tcp", "udp",
// "icmp", "icmpv6", or its number.
func ProtoName(proto uint8) string { return protoNames[proto] }

// flowIndex finds flows by key: an open-addressing hash table with linear
// probing of 8-byte slots, each the key's 32-bit hash and the flow's entry
// index plus one (0 is an empty slot). It holds at most half its slots, so
// probes are short, and costs 16 to 32 bytes per flow, against 50 to 100 for
// a Go map holding the keys again. Deletion shifts the following slots
// back, so there are no tombstones. The hash is keyed with a random seed
// so that crafted traffic cannot aim at one chain.
type flowIndex struct {
	slots []uint64
	mask  uint64
	n     int
	max   int // slots never grow past what max flows need
	seed  [3]uint64
}

func newFlowIndex(maxFlows int) flowIndex {
	x := flowIndex{max: maxFlows}
	for i := range x.seed {
		x.seed[i] = rand.Uint64() | 1
	}
	x.resize(64)
	return x
}

func (x *flowIndex) resize(size int) {
	old := x.slots
	x.slots, x.mask = make([]uint64, size), uint64(size-1)
	for _, s := range old {
		if s != 0 {
			i := (s >> 32) & x.mask
			for x.slots[i] != 0 {
				i = (i + 1) & x.mask
			}
			x.slots[i] = s
		}
	}
}

// hash is the key's 32-bit hash.
func (x *flowIndex) hash(k *flowKey) uint32 {
	a0, a1 := binary.LittleEndian.Uint64(k.a[:8]), binary.LittleEndian.Uint64(k.a[8:])
	b0, b1 := binary.LittleEndian.Uint64(k.b[:8]), binary.LittleEndian.Uint64(k.b[8:])
	w := uint64(k.pa) | uint64(k.pb)<<16 | uint64(k.proto)<<32
	h := mix(a0^x.seed[0], a1^x.seed[1]) ^ mix(b0^x.seed[2], b1^x.seed[0]) ^ mix(w^x.seed[1], x.seed[2])
	return uint32(h ^ h>>32)
}

// mix folds the 128-bit product of a and b.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// find returns the entry index of key k (with hash h) and whether it is
// there; key returns the key of an entry.
func (x *flowIndex) find(k *flowKey, h uint32, key func(int32) *flowKey) (int32, bool) {
	for i := uint64(h) & x.mask; ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == h {
			if idx := int32(uint32(s) - 1); *key(idx) == *k {
				return idx, true
			}
		}
	}
}

// insert adds entry idx under hash h; the key must not be there.
func (x *flowIndex) insert(h uint32, idx int32) {
	if 2*(x.n+1) > len(x.slots) && len(x.slots) < 2*x.max {
		x.resize(2 * len(x.slots))
	}
	i := uint64(h) & x.mask
	for x.slots[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.slots[i] = uint64(h)<<32 | uint64(uint32(idx)+1)
	x.n++
}

// remove deletes entry idx, found under hash h.
func (x *flowIndex) remove(h uint32, idx int32) {
	want := uint64(h)<<32 | uint64(uint32(idx)+1)
	i := uint64(h) & x.mask
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & x.mask
	}
	// Shift back the slots after i that may not sit past the hole.
	for j := (i + 1) & x.mask; x.slots[j] != 0; j = (j + 1) & x.mask {
		home := (x.slots[j] >> 32) & x.mask
		// The slot at j may fill the hole at i when its home is not
		// cyclically within (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}
