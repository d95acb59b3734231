package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// liveEnv is a test env whose server publishes to hub, served over real
// HTTP.
type liveEnv struct {
	*testEnv
	hub *Hub
	ts  *httptest.Server
}

func newLiveEnv(t *testing.T, opts HubOptions) *liveEnv {
	t.Helper()
	e := newEnv(t, false)
	hub := NewHub(opts)
	e.srv.live = hub
	e.srv.handler = e.srv.routes()
	e.h = e.srv.Handler()
	ts := httptest.NewServer(e.h)
	t.Cleanup(func() {
		hub.Close()
		ts.Close()
	})
	return &liveEnv{testEnv: e, hub: hub, ts: ts}
}

// sseEvent is one server-sent event as a client reads it.
type sseEvent struct {
	name, data string
	at         time.Time
}

// sseStream is an open GET /events read by a real HTTP client.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent // closed when the stream ends
	cancel context.CancelFunc
}

// openEvents opens GET /events with the session cookie and reads its events
// in the background.
func openEvents(t testing.TB, base string, sc *http.Cookie) (*sseStream, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.AddCookie(sc)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), cancel: cancel}
	if resp.StatusCode != http.StatusOK {
		close(s.events)
		return s, nil
	}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					ev.at = time.Now()
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s, nil
}

func (s *sseStream) close() { s.cancel() }

// next returns the next event, failing after d.
func (s *sseStream) next(t *testing.T, d time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
	}
	return sseEvent{}
}

// quiet reports whether no event arrives within d.
func (s *sseStream) quiet(d time.Duration) (sseEvent, bool) {
	select {
	case ev, ok := <-s.events:
		if !ok {
			return sseEvent{name: "<end>"}, false
		}
		return ev, false
	case <-time.After(d):
		return sseEvent{}, true
	}
}

func changeTopics(t *testing.T, ev sseEvent) []string {
	t.Helper()
	if ev.name != "change" {
		t.Fatalf("event %q (%s), want change", ev.name, ev.data)
	}
	var d struct {
		Topics []string `json:"topics"`
	}
	if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
		t.Fatalf("change data %q: %v", ev.data, err)
	}
	return d.Topics
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *liveEnv) stream(t *testing.T, user string, role model.Role) *sseStream {
	t.Helper()
	e.addUser(t, user, "hemmelig-passord", role)
	sc := e.login(t, user, "hemmelig-passord")
	s, err := openEvents(t, e.ts.URL, sc)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	t.Cleanup(s.close)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events = %d, want 200", s.resp.StatusCode)
	}
	return s
}

func TestEventsHelloThenChange(t *testing.T) {
	e := newLiveEnv(t, HubOptions{})
	s := e.stream(t, "anne", model.RoleAdmin)
	h := s.resp.Header
	for k, want := range map[string]string{"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	hello := s.next(t, time.Second)
	var texts liveHello
	if hello.name != "hello" || json.Unmarshal([]byte(hello.data), &texts) != nil {
		t.Fatalf("first event = %q %q, want hello with JSON", hello.name, hello.data)
	}
	if texts.Connected != translate("nb", "live.connected") || !strings.Contains(texts.Updated, "{time}") || texts.Offline == "" {
		t.Errorf("hello = %+v, want the bokmål status texts", texts)
	}
	start := time.Now()
	e.hub.Publish(TopicHosts, "no-such-topic")
	ev := s.next(t, time.Second)
	if got := changeTopics(t, ev); !slices.Equal(got, []string{TopicHosts}) {
		t.Errorf("change topics = %v, want [hosts]", got)
	}
	if d := ev.at.Sub(start); d > 500*time.Millisecond {
		t.Errorf("first change after a quiet spell took %v, want at once", d)
	}
}

func TestEventsHelloInEnglish(t *testing.T) {
	e := newLiveEnv(t, HubOptions{})
	e.addUser(t, "anne", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "anne", "hemmelig-passord")
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/events?lang=en", nil)
	req.AddCookie(sc)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var got []string
	for len(got) < 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(line))
	}
	if got[0] != "retry: 2000" || got[1] != "event: hello" || !strings.Contains(got[2], translate("en", "live.connected")) {
		t.Errorf("stream starts %q, want retry, hello and English texts", got)
	}
}

func TestEventsCoalesce(t *testing.T) {
	e := newLiveEnv(t, HubOptions{Gap: 100 * time.Millisecond})
	s := e.stream(t, "anne", model.RoleAdmin)
	s.next(t, time.Second) // hello
	for i := range 1000 {
		e.hub.Publish(topics[i%len(topics)])
	}
	seen := map[string]bool{}
	n := 0
	for len(seen) < len(topics) {
		for _, tp := range changeTopics(t, s.next(t, time.Second)) {
			seen[tp] = true
		}
		n++
	}
	if ev, quiet := s.quiet(300 * time.Millisecond); !quiet {
		n++
		t.Logf("one more event: %q %s", ev.name, ev.data)
	}
	if n > 3 {
		t.Errorf("1 000 publishes made %d events, want at most 3", n)
	}
}

func TestEventsGapBetweenEvents(t *testing.T) {
	gap := 150 * time.Millisecond
	e := newLiveEnv(t, HubOptions{Gap: gap})
	s := e.stream(t, "anne", model.RoleAdmin)
	s.next(t, time.Second)
	e.hub.Publish(TopicHosts)
	first := s.next(t, time.Second)
	e.hub.Publish(TopicMap)
	second := s.next(t, time.Second)
	if d := second.at.Sub(first.at); d < gap/2 { // slack for the reader's own scheduling
		t.Errorf("two events %v apart, want at least the gap %v", d, gap)
	}
	if got := changeTopics(t, second); !slices.Equal(got, []string{TopicMap}) {
		t.Errorf("second event = %v, want [map]", got)
	}
}

func TestEventsByRole(t *testing.T) {
	e := newLiveEnv(t, HubOptions{Gap: time.Millisecond})
	drift := e.stream(t, "dag", model.RoleDrift)
	revisor := e.stream(t, "rut", model.RoleRevisor)
	drift.next(t, time.Second)
	revisor.next(t, time.Second)

	e.hub.Publish(TopicDeviations)
	if got := changeTopics(t, revisor.next(t, time.Second)); !slices.Equal(got, []string{TopicDeviations}) {
		t.Errorf("revisor got %v, want [deviations]", got)
	}
	if ev, quiet := drift.quiet(200 * time.Millisecond); !quiet {
		t.Errorf("drift, who may not read deviations, got %q %s", ev.name, ev.data)
	}
	e.hub.Publish(TopicDeviations, TopicHosts)
	if got := changeTopics(t, drift.next(t, time.Second)); !slices.Equal(got, []string{TopicHosts}) {
		t.Errorf("drift got %v, want [hosts] only", got)
	}
}

func TestEventsEndOnHubClose(t *testing.T) {
	e := newLiveEnv(t, HubOptions{})
	s := e.stream(t, "anne", model.RoleAdmin)
	s.next(t, time.Second)
	if n := e.hub.Subscribers(); n != 1 {
		t.Fatalf("Subscribers = %d, want 1", n)
	}
	e.hub.Close()
	select {
	case _, ok := <-s.events:
		if ok {
			t.Fatal("event after Close, want the stream to end")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stream still open 2 s after Hub.Close")
	}
	waitFor(t, "no subscribers", func() bool { return e.hub.Subscribers() == 0 })
	// A closed hub takes no one new, and the server shuts down at once.
	sc := e.login(t, "anne", "hemmelig-passord")
	s2, err := openEvents(t, e.ts.URL, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.close()
	if s2.resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /events after Close = %d, want 503", s2.resp.StatusCode)
	}
	done := make(chan struct{})
	go func() { e.ts.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("server shutdown hangs")
	}
}

func TestEventsEndOnDisconnect(t *testing.T) {
	e := newLiveEnv(t, HubOptions{})
	s := e.stream(t, "anne", model.RoleAdmin)
	s.next(t, time.Second)
	s.close()
	waitFor(t, "the handler to end", func() bool { return e.hub.Subscribers() == 0 })
	e.hub.Publish(TopicHosts) // nobody left: must not block or panic
}

func TestEventsBounded(t *testing.T) {
	e := newLiveEnv(t, HubOptions{MaxSubscribers: 1})
	s := e.stream(t, "anne", model.RoleAdmin)
	s.next(t, time.Second)
	sc := e.login(t, "anne", "hemmelig-passord")
	s2, err := openEvents(t, e.ts.URL, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.close()
	if s2.resp.StatusCode != http.StatusServiceUnavailable || s2.resp.Header.Get("Retry-After") == "" {
		t.Errorf("second stream = %d (Retry-After %q), want 503 with Retry-After", s2.resp.StatusCode, s2.resp.Header.Get("Retry-After"))
	}
}

func TestEventsNeedLogin(t *testing.T) {
	e := newLiveEnv(t, HubOptions{})
	if rec := e.get("/events"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Errorf("GET /events without a session = %d to %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
}

func TestEventsHeartbeatEndsWithSession(t *testing.T) {
	e := newLiveEnv(t, HubOptions{Heartbeat: 50 * time.Millisecond})
	e.addUser(t, "anne", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "anne", "hemmelig-passord")
	s, err := openEvents(t, e.ts.URL, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.next(t, time.Second)
	time.Sleep(120 * time.Millisecond) // a few heartbeats with a good session
	if e.hub.Subscribers() != 1 {
		t.Fatal("stream ended while the session was good")
	}
	e.clock.advance(sessionTTL + time.Minute)
	waitFor(t, "the stream to end with the session", func() bool { return e.hub.Subscribers() == 0 })
}

func TestNilHub(t *testing.T) {
	var h *Hub
	h.Publish(TopicHosts)
	h.Close()
	if h.Subscribers() != 0 {
		t.Error("nil hub has subscribers")
	}
	e := newEnv(t, false)
	e.addUser(t, "anne", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "anne", "hemmelig-passord")
	if rec := e.get("/events", sc); rec.Code != http.StatusNoContent {
		t.Errorf("GET /events without a hub = %d, want 204", rec.Code)
	}
}

func TestUnsafeRoutePublishes(t *testing.T) {
	e := newLiveEnv(t, HubOptions{})
	e.sampleHosts()
	e.sampleDeviations()
	e.addUser(t, "anne", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "anne", "hemmelig-passord")
	csrf := sessionFromCookie(t, e.testEnv, sc).CSRF
	sub, err := e.hub.subscribe(allTopics)
	if err != nil {
		t.Fatal(err)
	}
	pending := func() []string { return topicSet(sub.pending.Swap(0)).names() }

	for _, tc := range []struct {
		name string
		path string
		form url.Values
		code int
		want []string
	}{
		{"comment", "/deviations/AVVIK-2026-1/comments", url.Values{"csrf": {csrf}, "text": {"sett"}}, http.StatusSeeOther, []string{TopicDeviations}},
		{"missing deviation", "/deviations/AVVIK-2026-99/comments", url.Values{"csrf": {csrf}, "text": {"sett"}}, http.StatusNotFound, nil},
		{"empty comment", "/deviations/AVVIK-2026-1/comments", url.Values{"csrf": {csrf}}, http.StatusBadRequest, nil},
		{"no CSRF", "/deviations/AVVIK-2026-1/comments", url.Values{"text": {"sett"}}, http.StatusForbidden, nil},
	} {
		rec := e.postForm(tc.path, tc.form, sc)
		if rec.Code != tc.code {
			t.Errorf("%s: POST %s = %d, want %d", tc.name, tc.path, rec.Code, tc.code)
		}
		if got := pending(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: published %v, want %v", tc.name, got, tc.want)
		}
	}
	// Reading publishes nothing.
	e.get("/deviations", sc)
	if got := pending(); len(got) != 0 {
		t.Errorf("GET /deviations published %v", got)
	}
}

func TestRouteTopics(t *testing.T) {
	for pattern, want := range map[string][]string{
		"POST /deviations/{id}/status":          {TopicDeviations},
		"POST /api/v1/deviations/{id}/comments": {TopicDeviations},
		"DELETE /api/v1/exceptions/{id}":        {TopicDeviations},
		"POST /assets":                          {TopicRegisters, TopicMap},
		"DELETE /api/v1/org/{kind}/{id}":        {TopicRegisters, TopicMap},
		"POST /software/catalog":                {TopicRegisters, TopicMap},
		"POST /media/register/delete":           {TopicRegisters, TopicMap},
		"POST /admin/agents/{id}/revoke":        {TopicAgents, TopicHosts},
		"POST /configmap/snapshots":             {TopicMap},
		"POST /logout":                          nil,
		"POST /softwarex":                       nil,
	} {
		if got := routeTopics(pattern); !slices.Equal(got, want) {
			t.Errorf("routeTopics(%q) = %v, want %v", pattern, got, want)
		}
	}
	// Every unsafe route that changes what a live page shows publishes.
	e := newEnv(t, false)
	for _, rt := range e.srv.routeTable() {
		if safeMethod(methodOf(rt.pattern)) {
			continue
		}
		if routeTopics(rt.pattern) == nil {
			t.Logf("unsafe route %s publishes no live topic", rt.pattern)
		}
	}
}

func TestStatusWriterKeepsFlusher(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	if err := http.NewResponseController(sw).Flush(); err != nil {
		t.Fatalf("Flush through statusWriter: %v", err)
	}
	if !rec.Flushed || sw.status != http.StatusOK {
		t.Errorf("flushed %v status %d, want true 200", rec.Flushed, sw.status)
	}
	sw = &statusWriter{ResponseWriter: httptest.NewRecorder()}
	sw.WriteHeader(http.StatusNotFound)
	_, _ = sw.Write([]byte("x"))
	if sw.status != http.StatusNotFound {
		t.Errorf("status = %d, want 404", sw.status)
	}
}

func TestAppJS(t *testing.T) {
	e := newEnv(t, false)
	rec := e.get("/static/app.js")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" ||
		rec.Header().Get("Cache-Control") != e.get("/static/style.css").Header().Get("Cache-Control") {
		t.Fatalf("GET /static/app.js = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
	}
	body := rec.Body.String()
	for _, w := range []string{"'use strict'", "new EventSource('/events')", "data-live-region", "liveConnected", "liveRefreshes", "sonevakt-live"} {
		if !strings.Contains(body, w) {
			t.Errorf("app.js lacks %q", w)
		}
	}
	for _, bad := range []string{"eval(", "innerHTML = ev", "document.write"} {
		if strings.Contains(body, bad) {
			t.Errorf("app.js has %q", bad)
		}
	}
}

// TestLiveRegions checks the live pages: data-live on main, regions with
// ids, and the filter form outside every region.
func TestLiveRegions(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleMedia()
	e.sampleDeviations()
	e.addUser(t, "anne", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "anne", "hemmelig-passord")
	for _, tc := range []struct {
		path, live string
		regions    []string
	}{
		{"/deviations?status=open", "deviations", []string{`<p id="dev-count" class="muted" data-live-region>`, `<div id="dev-list" data-live-region>`}},
		{"/media", "media", []string{`<div id="media-list" data-live-region>`}},
	} {
		rec := e.get(tc.path, sc)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `data-live="`+tc.live+`"`) {
			t.Errorf("GET %s = %d, want 200 with data-live=%q", tc.path, rec.Code, tc.live)
			continue
		}
		form := strings.Index(body, `<form class="filters"`)
		formEnd := form + strings.Index(body[form:], "</form>")
		for _, r := range tc.regions {
			i := strings.Index(body, r)
			if i < 0 {
				t.Errorf("GET %s lacks %s", tc.path, r)
				continue
			}
			if i > form && i < formEnd {
				t.Errorf("GET %s: region %s inside the filter form", tc.path, r)
			}
		}
		if i := strings.Index(body, tc.regions[len(tc.regions)-1]); i >= 0 && i < formEnd {
			t.Errorf("GET %s: the list region starts before the filter form ends", tc.path)
		}
	}
}
