package sockets

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/traffic"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// defaultMaxAge is how stale the default resolver's table may grow before a
// miss reads it again. The traffic sensor attributes a whole interval's
// flows in one burst when it reports; a table read less than this before
// the burst would miss every connection opened since, so it is short: a
// burst with misses costs about one read of the table, however many flows
// it attributes.
const defaultMaxAge = 250 * time.Millisecond

// defaultResolver attributes the traffic sensor's flows.
var defaultResolver = NewResolver(defaultMaxAge)

func init() {
	traffic.Attribute = defaultResolver.Lookup
}

// Resolver tells which local process owns a flow's socket, from the
// connection table. It reads the table lazily: only when a lookup misses
// and the table it holds is older than maxAge, so a burst of misses reads
// it at most once per maxAge. It is safe for concurrent use.
type Resolver struct {
	maxAge time.Duration
	src    connSource
	now    func() time.Time

	// refresh is held while the table is read; it guards procs.
	refresh sync.Mutex
	procs   *procCache

	mu  sync.RWMutex
	idx *index    // nil before the first read
	at  time.Time // when idx was read
}

// NewResolver returns a resolver of this machine's sockets that reads the
// table at most every maxAge.
func NewResolver(maxAge time.Duration) *Resolver {
	return newResolver(maxAge, system{}, time.Now)
}

func newResolver(maxAge time.Duration, src connSource, now func() time.Time) *Resolver {
	return &Resolver{maxAge: maxAge, src: src, now: now, procs: newProcCache(src)}
}

// lookupTimeout bounds a table read on behalf of a lookup.
const lookupTimeout = 10 * time.Second

// Lookup returns the process that owns the socket of a flow with protocol
// proto (6 TCP, 17 UDP; others give nil) between local, this host's side,
// and remote. It takes the socket of the exact 4-tuple first (either way
// round), then a socket listening on local's port (an inbound flow whose
// connection is gone, or UDP without connect). It returns nil when no
// socket matches or its owner is not known. The result is shared: callers
// must not modify it. A hit in a fresh table allocates nothing.
func (r *Resolver) Lookup(proto uint8, local, remote netip.AddrPort) *wire.FlowProcess {
	if proto != protoTCP && proto != protoUDP {
		return nil
	}
	local, remote = normAddrPort(local), normAddrPort(remote)
	r.mu.RLock()
	idx, at := r.idx, r.at
	r.mu.RUnlock()
	if p, ok := idx.find(proto, local, remote); ok {
		return p
	}
	if idx != nil && r.now().Sub(at) < r.maxAge {
		return nil
	}
	idx = r.reload(at)
	p, _ := idx.find(proto, local, remote)
	return p
}

// reload reads the table unless another caller did since seen (the read
// time of the table that missed), and returns the newest index.
func (r *Resolver) reload(seen time.Time) *index {
	r.refresh.Lock()
	defer r.refresh.Unlock()
	r.mu.RLock()
	idx, at := r.idx, r.at
	r.mu.RUnlock()
	if idx != nil && at != seen {
		return idx
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	entries, _, err := readTable(ctx, r.src, r.procs)
	cancel()
	if err == nil {
		idx = buildIndex(entries)
	} else if idx == nil {
		idx = buildIndex(nil)
	}
	// On error the old table stays, and is not read again before maxAge.
	r.mu.Lock()
	r.idx, r.at = idx, r.now()
	r.mu.Unlock()
	return idx
}

// tuple is a connected socket's key.
type tuple struct {
	proto         uint8
	local, remote netip.AddrPort
}

// portKey is a listening socket's key.
type portKey struct {
	proto uint8
	port  uint16
}

// listener is a listening socket: its address (unspecified for every
// address) and owner.
type listener struct {
	addr netip.Addr
	proc *wire.FlowProcess
}

// index is a table arranged for lookups; it is not changed once built.
type index struct {
	conns  map[tuple]*wire.FlowProcess
	listen map[portKey][]listener
}

func buildIndex(entries []entry) *index {
	x := &index{conns: make(map[tuple]*wire.FlowProcess, len(entries)), listen: map[portKey][]listener{}}
	for _, e := range entries {
		if e.listening() {
			k := portKey{e.proto, e.local.Port()}
			x.listen[k] = append(x.listen[k], listener{addr: e.local.Addr(), proc: e.proc})
			continue
		}
		if !e.remote.IsValid() {
			continue
		}
		k := tuple{e.proto, e.local, e.remote}
		// A 4-tuple seen twice (a process forked with the socket) keeps the
		// first owner that is known.
		if p, ok := x.conns[k]; !ok || p == nil {
			x.conns[k] = e.proc
		}
	}
	return x
}

// find looks a flow up; ok reports whether a socket matched, even one
// without a known owner.
func (x *index) find(proto uint8, local, remote netip.AddrPort) (p *wire.FlowProcess, ok bool) {
	if x == nil {
		return nil, false
	}
	if p, ok := x.conns[tuple{proto, local, remote}]; ok {
		return p, true
	}
	if p, ok := x.conns[tuple{proto, remote, local}]; ok {
		return p, true
	}
	// A listener on local's very address wins over one on every address;
	// an IPv6 wildcard listener takes IPv4 too (dual stack).
	ls := x.listen[portKey{proto, local.Port()}]
	wild := -1
	for i, l := range ls {
		switch {
		case l.addr == local.Addr():
			return l.proc, true
		case wild < 0 && l.addr.IsUnspecified() && (l.addr.Is4() == local.Addr().Is4() || l.addr.Is6()):
			wild = i
		}
	}
	if wild >= 0 {
		return ls[wild].proc, true
	}
	return nil, false
}
