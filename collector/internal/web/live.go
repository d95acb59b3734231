package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Live updates: the Hub hears of changes (ingest, the deviation engine, the
// UI's own forms) by topic, and GET /events tells each open page which
// topics changed, as server-sent events. The page (static/app.js) then
// fetches itself again and swaps its live regions. Events carry topics only,
// never data, so a page shows nothing its reader could not load anyway.

// The change topics. A page names those it shows in pageData.Live.
const (
	TopicHosts      = "hosts"
	TopicMap        = "map"
	TopicAgents     = "agents"
	TopicDeviations = "deviations"
	TopicMedia      = "media"
	TopicTraffic    = "traffic"
	TopicRegisters  = "registers"
)

// topics lists the known topics; a topic's bit is 1 << its index.
var topics = [...]string{TopicHosts, TopicMap, TopicAgents, TopicDeviations, TopicMedia, TopicTraffic, TopicRegisters}

// topicSet is a set of topics as a bitmask.
type topicSet uint32

const allTopics topicSet = 1<<len(topics) - 1

func topicsOf(names []string) topicSet {
	var b topicSet
	for _, n := range names {
		if i := slices.Index(topics[:], n); i >= 0 {
			b |= 1 << i
		}
	}
	return b
}

func (b topicSet) names() []string {
	out := make([]string, 0, len(topics))
	for i, n := range topics {
		if b&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Hub defaults.
const (
	DefaultLiveSubscribers = 1000
	DefaultLiveGap         = 250 * time.Millisecond
	DefaultLiveHeartbeat   = 25 * time.Second
	liveWriteTimeout       = 10 * time.Second // a client that takes no bytes for this long is dropped
)

// errHubFull and errHubClosed refuse a subscription.
var (
	errHubFull   = errors.New("live: too many subscribers")
	errHubClosed = errors.New("live: hub closed")
)

// HubOptions tune a Hub; zero values take the defaults.
type HubOptions struct {
	MaxSubscribers int           // DefaultLiveSubscribers
	Gap            time.Duration // least time between two events to one subscriber; DefaultLiveGap
	Heartbeat      time.Duration // comment line on an idle stream; DefaultLiveHeartbeat
	// Relay, if set, hears the topics of every Publish, to pass them on to
	// the other collector replicas sharing the store; they come back in
	// through PublishRemote there. It is called inline and must not block.
	Relay func(topics []string)
}

// Hub fans change topics out to the open event streams. Publish never
// blocks: each subscriber keeps a pending set of topics and a one-slot wake
// channel, so a burst of changes becomes one event per gap. A nil *Hub is
// valid and does nothing.
type Hub struct {
	opts HubOptions

	mu   sync.Mutex // guards changes of subs and closed
	subs atomic.Pointer[[]*subscriber]
	// changes counts publishes, so that what is built from the store
	// (the configuration map) knows when it may be out of date.
	changes atomic.Uint64
	closed  bool
	done    chan struct{} // closed by Close
}

// subscriber is one open event stream.
type subscriber struct {
	allowed topicSet      // what its reader may hear of
	pending atomic.Uint32 // topicSet not yet sent
	wake    chan struct{} // one slot: something is pending
}

// NewHub returns a Hub with opts.
func NewHub(opts HubOptions) *Hub {
	if opts.MaxSubscribers <= 0 {
		opts.MaxSubscribers = DefaultLiveSubscribers
	}
	if opts.Gap <= 0 {
		opts.Gap = DefaultLiveGap
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultLiveHeartbeat
	}
	h := &Hub{opts: opts, done: make(chan struct{})}
	h.subs.Store(&[]*subscriber{})
	return h
}

// Publish tells every subscriber that may see them that topics changed.
// Unknown topics are ignored. It takes no lock and never waits.
func (h *Hub) Publish(topics ...string) {
	if h == nil {
		return
	}
	b := topicsOf(topics)
	if b == 0 {
		return
	}
	if h.opts.Relay != nil {
		h.opts.Relay(b.names())
	}
	h.publish(b)
}

// PublishRemote publishes topics that changed on another replica: like
// Publish, but not relayed again. "*" stands for every topic (the relay
// says so when it may have missed something).
func (h *Hub) PublishRemote(topics ...string) {
	if h == nil {
		return
	}
	b := topicsOf(topics)
	if slices.Contains(topics, "*") {
		b = allTopics
	}
	if b != 0 {
		h.publish(b)
	}
}

func (h *Hub) publish(b topicSet) {
	h.changes.Add(1)
	for _, s := range *h.subs.Load() {
		m := b & s.allowed
		if m == 0 {
			continue
		}
		// Topics already pending have their wake-up on the way (sent, or
		// the slot was full); only new ones need one.
		if old := topicSet(s.pending.Or(uint32(m))); old&m != m {
			select {
			case s.wake <- struct{}{}:
			default: // already awake; the pending set carries the topics
			}
		}
	}
}

// Changes returns how many changes have been published; 0 for a nil Hub.
func (h *Hub) Changes() uint64 {
	if h == nil {
		return 0
	}
	return h.changes.Load()
}

// Subscribers returns how many event streams are open.
func (h *Hub) Subscribers() int {
	if h == nil {
		return 0
	}
	return len(*h.subs.Load())
}

// Close ends every event stream and refuses new ones. Call it before
// http.Server.Shutdown, which does not end streaming handlers by itself.
func (h *Hub) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

func (h *Hub) subscribe(allowed topicSet) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errHubClosed
	}
	old := *h.subs.Load()
	if len(old) >= h.opts.MaxSubscribers {
		return nil, errHubFull
	}
	s := &subscriber{allowed: allowed, wake: make(chan struct{}, 1)}
	subs := append(slices.Clip(old), s) // copy on write: Publish reads without a lock
	h.subs.Store(&subs)
	return s, nil
}

func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := slices.DeleteFunc(slices.Clone(*h.subs.Load()), func(x *subscriber) bool { return x == s })
	h.subs.Store(&subs)
}

// liveHello is the data of the first event: the status texts the page shows,
// in the reader's language. {time} in Updated stands for the clock time.
type liveHello struct {
	Connected string `json:"connected"`
	Updated   string `json:"updated"`
	Offline   string `json:"offline"`
	Stopped   string `json:"stopped"` // the session ended; only a reload helps
}

// handleEvents streams change events to a logged-in page (GET /events).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	lang := langFrom(r.Context())
	h := s.live
	if h == nil || p == nil {
		// 204 tells an EventSource not to come back: nothing is live here.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	allowed := allTopics
	if !s.allowed(p.Role, "GET /deviations") {
		allowed &^= topicsOf([]string{TopicDeviations})
	}
	sub, err := h.subscribe(allowed)
	if err != nil {
		w.Header().Set("Retry-After", "30")
		http.Error(w, translate(lang, "live.unavailable"), http.StatusServiceUnavailable)
		return
	}
	defer h.unsubscribe(sub)

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// send writes one event or comment and flushes it; false ends the stream.
	send := func(chunk string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout)) // unsupported is fine
		if _, err := w.Write([]byte(chunk)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	hello, _ := json.Marshal(liveHello{
		Connected: translate(lang, "live.connected"),
		Updated:   translate(lang, "live.updated"),
		Offline:   translate(lang, "live.offline"),
		Stopped:   translate(lang, "live.stopped"),
	})
	if !send(fmt.Sprintf("retry: 2000\nevent: hello\ndata: %s\n\n", hello)) {
		return
	}

	ctx := r.Context()
	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	var last time.Time // when the last change event went out
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case <-heartbeat.C:
			// The session may have ended or its role changed since the
			// stream opened: end the stream, and the page reconnects as
			// whoever it is now.
			if q, err := s.sessionPrincipal(r); err != nil || q == nil || q.Role != p.Role {
				return
			}
			if !send(": ping\n\n") {
				return
			}
		case <-sub.wake:
			// The first change after a quiet spell goes out at once; later
			// ones wait out the gap and go together.
			if wait := h.opts.Gap - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-h.done:
					t.Stop()
					return
				case <-t.C:
				}
			}
			b := topicSet(sub.pending.Swap(0))
			if b == 0 {
				continue
			}
			data, _ := json.Marshal(struct {
				Topics []string `json:"topics"`
			}{b.names()})
			if !send(fmt.Sprintf("event: change\ndata: %s\n\n", data)) {
				return
			}
			last = time.Now()
		}
	}
}

// handleJS serves the UI's one script.
func (s *Server) handleJS(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("static/app.js")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// routeTopics are the topics a successful change through an unsafe route
// touches, by the route's path ("POST /api/v1/assets" → registers, map).
func routeTopics(pattern string) []string {
	_, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimPrefix(path, "/api/v1")
	under := func(prefixes ...string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool {
			return path == p || strings.HasPrefix(path, p+"/")
		})
	}
	switch {
	case under("/deviations", "/exceptions", "/breaches"):
		return []string{TopicDeviations}
	case under("/assets", "/org", "/software/catalog", "/media/register"):
		return []string{TopicRegisters, TopicMap}
	case under("/admin"):
		return []string{TopicAgents, TopicHosts}
	case under("/configmap"):
		return []string{TopicMap}
	}
	return nil
}

// publishOnSuccess publishes topics after next answered with a status below
// 400, so that other open pages follow a change made through the UI or API.
func (s *Server) publishOnSuccess(topics []string, next http.Handler) http.Handler {
	if len(topics) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status < http.StatusBadRequest {
			s.changes.Add(1)
			s.live.Publish(topics...)
		}
	})
}

// statusWriter records the status a handler answered with. Unwrap lets
// http.ResponseController reach the flusher and deadlines underneath.
type statusWriter struct {
	http.ResponseWriter
	status int // 0 until written; an unwritten response is a 200
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
