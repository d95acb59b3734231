// Command sonevakt-loadgen simulates a fleet of agents against a collector, for
// the scale benchmarks (make bench-scale) and the load test in e2e. Every
// simulated agent is the real agent code minus the sensors: its own data dir
// with the real identity (its own key and certificate, enrolled with a token)
// and the real spool, drained by the real uplink over QUIC. The records are
// plausible and vary between agents and over time: hello, host facts and
// inventory (full, then deltas as software drifts), flows, neighbours, health
// and now and then a USB stick going in and out.
//
// Ack latency is measured per record: from the moment the record is handed to
// the spool (before Append) to the moment the uplink has committed the ack
// that covers it (Config.OnAck). It therefore includes the wait in the spool
// behind a batch in flight, the batch's trip, the collector's transaction and
// the ack's way back.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

const usage = `sonevakt-loadgen simulates N agents (real identity, spool and uplink) against a collector.

Usage:
  sonevakt-loadgen --collector HOST:PORT --token TOKEN --agents N --duration D
                   [--mode steady|burst|churn|outage] [--rate R] [--dir DIR] [--json]

The token needs at least N uses: sonevakt-collector token create --data DIR --uses N.
Agents whose data dir (DIR/agent-NNNNN) already holds an identity are reused, not enrolled.
Exit status 1 when an enrollment failed, a record was dropped or refused (lost), or a record was
still unacked at the end (undelivered); the summary says which.
`

type options struct {
	collector, tokenStr, dir, mode, ackedOut, logLevel, latOut, readyFile string
	agents, enrollConc, workers, enrollRetries, first                     int
	enrollTimeout                                                         time.Duration
	duration, tick, drain, churnEvery, churnDown                          time.Duration
	maxBackoff, probeEvery                                                time.Duration
	rate, churn                                                           float64
	spoolBytes                                                            int64
	seed                                                                  uint64
	json, fsync, keep                                                     bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sonevakt-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage, "\nFlags:\n"); fs.PrintDefaults() }
	fs.StringVar(&o.collector, "collector", "", "collector agent listener `HOST:PORT` (UDP)")
	fs.StringVar(&o.tokenStr, "token", "", "enrollment `TOKEN` with at least N uses")
	fs.IntVar(&o.agents, "agents", 10, "number of simulated agents `N`")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long records are generated (steady, churn); the cap on waiting (burst, outage)")
	fs.StringVar(&o.mode, "mode", "steady", "steady, burst, churn or outage")
	fs.Float64Var(&o.rate, "rate", 1, "records per second per agent")
	fs.StringVar(&o.dir, "dir", "", "`DIR` for the agents' data dirs (default: a temp dir, removed at the end)")
	fs.BoolVar(&o.json, "json", false, "print the summary as JSON")
	fs.IntVar(&o.enrollConc, "enroll-concurrency", 200, "enrollments in flight at once (burst: all N)")
	fs.IntVar(&o.first, "first", 0, "index of the first agent (agents are `I`..I+N-1): several loadgen processes can share one fleet dir")
	fs.StringVar(&o.latOut, "lat-out", "", "write the ack-latency histogram to `FILE` (lines: bucket_us count), to merge shards")
	fs.StringVar(&o.readyFile, "ready-file", "", "create `FILE` when every agent is enrolled and started and records begin (for scripts)")
	fs.IntVar(&o.enrollRetries, "enroll-retries", 8, "retries of a failed enrollment, 5 s apart doubling to 5 min, as the agent service does (0: fail at once)")
	fs.DurationVar(&o.enrollTimeout, "enroll-timeout", 10*time.Minute, "give up enrolling an agent after this long")
	fs.IntVar(&o.workers, "workers", 0, "goroutines generating records (default 4 x GOMAXPROCS)")
	fs.DurationVar(&o.tick, "tick", time.Second, "each agent spools its due records once per tick")
	fs.DurationVar(&o.drain, "drain", 2*time.Minute, "after generating, how long to wait for every spool to empty")
	fs.Float64Var(&o.churn, "churn", 0.1, "churn: fraction of agents restarted every --churn-every")
	fs.DurationVar(&o.churnEvery, "churn-every", 5*time.Second, "churn: how often a share of agents stops")
	fs.DurationVar(&o.churnDown, "churn-down", 2*time.Second, "churn: how long a stopped agent stays down")
	fs.DurationVar(&o.maxBackoff, "max-backoff", 0, "uplink reconnect backoff cap (0: the agent's default, 5 min)")
	fs.DurationVar(&o.probeEvery, "probe-every", 250*time.Millisecond, "outage: how often the collector is probed")
	fs.Int64Var(&o.spoolBytes, "spool-bytes", 16<<20, "bound of each agent's spool")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the simulated machines (same seed, same fleet)")
	fs.BoolVar(&o.fsync, "fsync", false, "fsync spool appends like a real agent (costly with thousands of agents on one disk)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir")
	fs.StringVar(&o.ackedOut, "acked-out", "", "write per agent `FILE` lines: agent_id first_seq last_seq committed (to compare with the store)")
	fs.StringVar(&o.logLevel, "log-level", "error", "log level on stderr: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.collector == "":
		return o, errors.New("--collector HOST:PORT is required")
	case o.agents < 1:
		return o, fmt.Errorf("--agents %d: want at least 1", o.agents)
	case o.duration <= 0 || o.tick <= 0:
		return o, errors.New("--duration and --tick must be positive")
	case o.rate < 0:
		return o, fmt.Errorf("--rate %v: want 0 or more", o.rate)
	case !slices.Contains([]string{"steady", "burst", "churn", "outage"}, o.mode):
		return o, fmt.Errorf("--mode %q: want steady, burst, churn or outage", o.mode)
	case o.churn < 0 || o.churn > 1:
		return o, fmt.Errorf("--churn %v: want a fraction 0..1", o.churn)
	case o.first < 0:
		return o, errors.New("--first must be 0 or more")
	case o.enrollConc < 1:
		return o, errors.New("--enroll-concurrency must be at least 1")
	}
	if o.workers == 0 {
		o.workers = 4 * runtime.GOMAXPROCS(0)
	}
	if o.mode == "burst" {
		o.enrollConc = o.agents
	}
	return o, nil
}

// summary is what a run reports.
type summary struct {
	Mode         string `json:"mode"`
	Agents       int    `json:"agents"`
	Enrolled     int    `json:"enrolled"`
	EnrolledNew  int    `json:"enrolled_new"`
	EnrollFailed int    `json:"enroll_failed"`
	// EnrollFirstFailed counts agents whose first attempt failed (they then
	// retried, as the agent service does); EnrollRetries the retries.
	EnrollFirstFailed int `json:"enroll_first_failed"`
	EnrollRetries     int `json:"enroll_retries"`
	// EnrollFirstErrors counts the first attempts' errors by reason.
	EnrollFirstErrors map[string]int `json:"enroll_first_errors,omitempty"`
	EnrollP50         float64        `json:"enroll_p50_ms"`
	EnrollP99         float64        `json:"enroll_p99_ms"`
	EnrollS           float64        `json:"enroll_s"`
	Connected         int            `json:"connected"`
	ConnectS          float64        `json:"connect_s"`
	Reconnects        uint64         `json:"reconnects"`
	Restarts          uint64         `json:"restarts,omitempty"`
	Sent              uint64         `json:"sent"`
	Acked             uint64         `json:"acked"`
	Batches           uint64         `json:"batches"` // acked bulk batches
	Lost              uint64         `json:"lost"`
	SpoolLeft         uint64         `json:"spool_left"`
	Dropped           uint64         `json:"dropped"`
	Refused           uint64         `json:"refused"`
	AckP50            float64        `json:"ack_p50_ms"`
	AckP99            float64        `json:"ack_p99_ms"`
	AckMax            float64        `json:"ack_max_ms"`
	RecordsPerS       float64        `json:"records_per_s"`
	DurationS         float64        `json:"duration_s"`
	DrainS            float64        `json:"drain_s"`
	OutageS           float64        `json:"outage_s,omitempty"`
	Backlog           uint64         `json:"backlog,omitempty"`
	CatchupS          float64        `json:"catchup_s,omitempty"`
	GenStart          int64          `json:"gen_start_unix"` // generation window, for samplers
	GenEnd            int64          `json:"gen_end_unix"`
	MaxFDs            uint64         `json:"max_fds"`
	HeapMiB           float64        `json:"heap_mib"`
	Goroutines        int            `json:"goroutines"`
	OK                bool           `json:"ok"`
	Problems          []string       `json:"problems,omitempty"`
	ackedInWindow     uint64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sonevakt-loadgen:", err)
		return 2
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(o.logLevel))
	g := &gen{opt: o, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), lat: &hist{}}
	if o.tokenStr != "" {
		if g.token, err = wire.ParseToken(o.tokenStr); err != nil {
			fmt.Fprintln(stderr, "sonevakt-loadgen: --token:", err)
			return 2
		}
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "sonevakt-loadgen-")
		if err != nil {
			fmt.Fprintln(stderr, "sonevakt-loadgen:", err)
			return 1
		}
		g.opt.dir = d
		if !o.keep {
			defer removeAll(d)
		}
	} else if err := os.MkdirAll(o.dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "sonevakt-loadgen:", err)
		return 1
	}
	fds, err := raiseFDLimit(uint64(o.agents)*4 + 1024)
	if err != nil {
		fmt.Fprintln(stderr, "sonevakt-loadgen: warning:", err)
	}
	s := g.exec(ctx)
	s.MaxFDs = fds
	if o.ackedOut != "" {
		if err := g.writeAcked(o.ackedOut); err != nil {
			s.Problems = append(s.Problems, "write --acked-out: "+err.Error())
			s.OK = false
		}
	}
	if o.latOut != "" {
		if err := g.lat.write(o.latOut); err != nil {
			s.Problems = append(s.Problems, "write --lat-out: "+err.Error())
			s.OK = false
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	} else {
		s.print(stdout)
	}
	if !s.OK {
		return 1
	}
	return 0
}

// exec runs the whole scenario and returns its summary.
func (g *gen) exec(ctx context.Context) summary {
	o := g.opt
	s := summary{Mode: o.mode, Agents: o.agents}
	g.sims = make([]*sim, o.agents)
	for i := range g.sims {
		g.sims[i] = newSim(g, o.first+i)
	}

	// Enrollment: agents with an identity on disk are reused.
	enrollLat := &hist{}
	var failed, fresh, firstFailed, retries atomic.Int64
	var failMu sync.Mutex
	failures, firstErrs := map[string]int{}, map[string]int{}
	t0 := time.Now()
	sem := make(chan struct{}, o.enrollConc)
	var gate sync.WaitGroup // burst: nobody dials before every goroutine is ready
	gate.Add(1)
	var wg sync.WaitGroup
	for _, sm := range g.sims {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			gate.Wait()
			ectx, cancel := context.WithTimeout(ctx, o.enrollTimeout)
			defer cancel()
			start := time.Now()
			ok, err := sm.enroll(ectx)
			// As the agent does under its service manager: retry after 5 s,
			// doubling up to 5 min, until the deadline.
			for wait, try := 5*time.Second, 1; err != nil && try <= o.enrollRetries && ectx.Err() == nil; try++ {
				if try == 1 {
					firstFailed.Add(1)
					failMu.Lock()
					firstErrs[reason(err)]++
					failMu.Unlock()
				}
				retries.Add(1)
				g.log.Info("enroll failed; retrying", "agent", sm.idx, "in", wait, "err", err)
				sleep(ectx, wait)
				ok, err = sm.enroll(ectx)
				wait = min(2*wait, 5*time.Minute)
			}
			if err != nil {
				failed.Add(1)
				failMu.Lock()
				failures[reason(err)]++
				failMu.Unlock()
				g.log.Warn("enroll", "agent", sm.idx, "err", err)
				return
			}
			if ok {
				fresh.Add(1)
				enrollLat.add(time.Since(start))
			}
		})
	}
	gate.Done()
	wg.Wait()
	s.EnrollS = time.Since(t0).Seconds()
	s.EnrollFailed, s.EnrolledNew = int(failed.Load()), int(fresh.Load())
	s.EnrollFirstFailed, s.EnrollRetries = int(firstFailed.Load()), int(retries.Load())
	s.EnrollFirstErrors = firstErrs
	s.Enrolled = o.agents - s.EnrollFailed
	s.EnrollP50, s.EnrollP99 = ms(enrollLat.quantile(0.5)), ms(enrollLat.quantile(0.99))
	for msg, n := range failures {
		s.Problems = append(s.Problems, fmt.Sprintf("%d enrollment(s) failed: %s", n, msg))
	}
	if ctx.Err() != nil {
		s.Problems = append(s.Problems, "interrupted")
		return g.finish(s, nil)
	}

	// Start every enrolled agent: hello and a full inventory, then the uplink.
	var live []*sim
	for _, sm := range g.sims {
		if sm.id == nil {
			continue
		}
		if err := sm.start(); err != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("agent %d: %v", sm.idx, err))
			continue
		}
		live = append(live, sm)
	}
	g.sims = live
	t1 := time.Now()
	s.Connected = g.waitConnected(ctx, min(o.duration, 2*time.Minute)+30*time.Second)
	s.ConnectS = time.Since(t1).Seconds()

	gctx, stopGen := context.WithCancel(ctx)
	genDone := make(chan struct{})
	ackedBefore := g.acked.Load()
	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, fmt.Appendf(nil, "%d agents, %d connected\n", len(g.sims), s.Connected), 0o600); err != nil {
			s.Problems = append(s.Problems, "write --ready-file: "+err.Error())
		}
	}
	tg := time.Now()
	if o.mode == "burst" { // the burst's records were spooled at start
		tg, ackedBefore = t1, 0
	}
	s.GenStart = tg.Unix()
	if o.mode != "burst" {
		go func() { g.run(gctx, o.workers); close(genDone) }()
	} else {
		close(genDone)
	}
	var restarts atomic.Uint64
	switch o.mode {
	case "burst":
		// Everyone spooled hello and inventory at start; wait for them below.
	case "steady":
		sleep(ctx, o.duration)
	case "churn":
		g.churn(ctx, &restarts)
	case "outage":
		g.outage(ctx, &s)
	}
	stopGen()
	<-genDone
	s.DurationS = time.Since(tg).Seconds()
	s.GenEnd = time.Now().Unix()
	s.ackedInWindow = g.acked.Load() - ackedBefore
	if o.mode == "churn" { // bring every agent back before draining
		for _, sm := range g.sims {
			if err := sm.start(); err != nil {
				s.Problems = append(s.Problems, fmt.Sprintf("agent %d: restart: %v", sm.idx, err))
			}
		}
	}
	s.Restarts = restarts.Load()
	if o.mode != "burst" {
		s.Connected = g.connected()
	}
	td := time.Now()
	drain := o.drain
	if o.mode == "burst" {
		drain = o.duration
	}
	g.waitDrained(ctx, drain)
	s.DrainS = time.Since(td).Seconds()
	if o.mode == "burst" {
		s.DurationS = time.Since(tg).Seconds()
		s.GenEnd = time.Now().Unix()
		s.ackedInWindow = g.acked.Load() - ackedBefore
		s.Connected = g.connected()
	}
	if ctx.Err() != nil {
		s.Problems = append(s.Problems, "interrupted")
	}
	return g.finish(s, nil)
}

// finish stops every agent and fills in the totals and the verdict.
func (g *gen) finish(s summary, _ error) summary {
	var wg sync.WaitGroup
	for _, sm := range g.sims {
		wg.Go(sm.stop)
	}
	wg.Wait()
	states := make([]simState, len(g.sims))
	for i, sm := range g.sims {
		states[i] = sm.state()
	}
	for _, st := range states {
		s.Reconnects += st.reconnect
		s.Batches += st.batches
		s.SpoolLeft += st.left
		s.Dropped += st.dropped
		s.Refused += st.refused
		if st.sent > 0 && st.committed < st.lastSeq {
			s.Lost += min(st.lastSeq-st.committed, st.sent)
		}
	}
	s.Sent, s.Acked = g.sent.Load(), g.acked.Load()
	s.AckP50, s.AckP99, s.AckMax = ms(g.lat.quantile(0.5)), ms(g.lat.quantile(0.99)), ms(time.Duration(g.lat.max.Load()))
	if s.DurationS > 0 {
		s.RecordsPerS = float64(s.ackedInWindow) / s.DurationS
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.HeapMiB = float64(m.HeapInuse) / (1 << 20)
	s.Goroutines = runtime.NumGoroutine()
	if n := g.appendFailed.Load(); n > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("%d spool append(s) failed", n))
	}
	if s.Lost > 0 || s.Acked < s.Sent {
		s.Problems = append(s.Problems, fmt.Sprintf("UNDELIVERED: %d of %d records sent were not acked by the end (%d still in spools, not lost; rerun with a longer --drain)", s.Sent-min(s.Acked, s.Sent), s.Sent, s.SpoolLeft))
	}
	if s.Dropped > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("LOST: %d records dropped by full spools", s.Dropped))
	}
	if s.Refused > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("LOST: %d records refused by the collector", s.Refused))
	}
	slices.Sort(s.Problems)
	s.OK = s.EnrollFailed == 0 && s.Lost == 0 && s.Acked >= s.Sent && s.Dropped == 0 && s.Refused == 0 && g.appendFailed.Load() == 0 && len(s.Problems) == 0
	return s
}

func (g *gen) connected() int {
	n := 0
	for _, sm := range g.sims {
		if sm.state().connected {
			n++
		}
	}
	return n
}

// waitConnected waits until every agent is connected or d passes.
func (g *gen) waitConnected(ctx context.Context, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := g.connected()
		if n == len(g.sims) || time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// waitDrained waits until every spool is empty and everything appended is
// committed, or d passes.
func (g *gen) waitDrained(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		done := true
		for _, sm := range g.sims {
			st := sm.state()
			if st.left > 0 || st.committed < st.lastSeq {
				done = false
				break
			}
		}
		if done {
			return
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// churn stops a share of the agents every churnEvery and starts them again
// after churnDown, reopening identity and spool from disk, until the duration
// is over.
func (g *gen) churn(ctx context.Context, restarts *atomic.Uint64) {
	o := g.opt
	end := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	defer wg.Wait()
	k := 0
	for time.Now().Add(o.churnEvery).Before(end) && ctx.Err() == nil {
		sleep(ctx, o.churnEvery)
		n := int(o.churn * float64(len(g.sims)))
		for range n {
			sm := g.sims[k%len(g.sims)]
			k++
			wg.Go(func() {
				sm.stop()
				sleep(ctx, o.churnDown)
				if err := sm.start(); err != nil {
					g.log.Error("restart agent", "agent", sm.idx, "err", err)
					return
				}
				restarts.Add(1)
			})
		}
	}
	sleep(ctx, time.Until(end))
}

// outage generates records while probing the collector. It records when the
// collector goes away and comes back; from its return it waits until every
// agent has committed all it had spooled by then (the backlog): the
// catch-up time. Records keep coming meanwhile, as from real agents.
func (g *gen) outage(ctx context.Context, s *summary) {
	o := g.opt
	end := time.Now().Add(o.duration)
	tls := g.sims[0].id.TLSConfig()
	up := func() bool {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := quic.DialAddr(pctx, o.collector, tls, &quic.Config{HandshakeIdleTimeout: time.Second})
		if err != nil {
			return false
		}
		c.CloseWithError(0, "probe")
		return true
	}
	var downAt, backAt time.Time
	misses := 0
	for downAt.IsZero() {
		if ctx.Err() != nil || time.Now().After(end) {
			s.Problems = append(s.Problems, "outage: the collector never went away within --duration")
			return
		}
		if up() {
			misses = 0
		} else if misses++; misses == 2 {
			downAt = time.Now()
			g.log.Warn("collector gone")
		}
		sleep(ctx, o.probeEvery)
	}
	for backAt.IsZero() {
		if ctx.Err() != nil || time.Now().After(end) {
			s.Problems = append(s.Problems, "outage: the collector did not come back within --duration")
			return
		}
		if up() {
			backAt = time.Now()
			g.log.Warn("collector back")
		} else {
			sleep(ctx, o.probeEvery)
		}
	}
	s.OutageS = backAt.Sub(downAt).Seconds()
	targets := make([]uint64, len(g.sims))
	for i, sm := range g.sims {
		st := sm.state()
		targets[i] = st.lastSeq
		if st.lastSeq > st.committed {
			s.Backlog += st.lastSeq - st.committed
		}
	}
	for i := 0; i < len(g.sims); {
		if ctx.Err() != nil || time.Now().After(end) {
			s.Problems = append(s.Problems, fmt.Sprintf("outage: %d agents had not caught up within --duration (or the run was interrupted)", len(g.sims)-i))
			return
		}
		if g.sims[i].committedAtLeast(targets[i]) {
			i++
			continue
		}
		sleep(ctx, 100*time.Millisecond)
	}
	s.CatchupS = time.Since(backAt).Seconds()
}

// reason shortens an error to something that groups: no ports, paths or ids.
func reason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "agent-"); i >= 0 {
		msg = msg[:i]
	}
	return portRE.ReplaceAllString(msg, ":PORT")
}

var portRE = regexp.MustCompile(`:[0-9]{2,5}\b`)

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (g *gen) writeAcked(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, sm := range g.sims {
		st := sm.state()
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", st.agentID, st.firstSeq, st.lastSeq, st.committed)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s summary) print(w io.Writer) {
	fmt.Fprintf(w, "mode %s, %d agents, %.1f s generating, %.1f s draining\n", s.Mode, s.Agents, s.DurationS, s.DrainS)
	fmt.Fprintf(w, "enrolled       %d (%d new, p50 %.1f ms, p99 %.1f ms, %.1f s in all)\n", s.Enrolled, s.EnrolledNew, s.EnrollP50, s.EnrollP99, s.EnrollS)
	fmt.Fprintf(w, "enroll_failed  %d (first attempt failed for %d, %d retries)\n", s.EnrollFailed, s.EnrollFirstFailed, s.EnrollRetries)
	for r, n := range s.EnrollFirstErrors {
		fmt.Fprintf(w, "  first attempt: %d x %s\n", n, r)
	}
	fmt.Fprintf(w, "connected      %d (all within %.1f s), reconnects %d, restarts %d\n", s.Connected, s.ConnectS, s.Reconnects, s.Restarts)
	fmt.Fprintf(w, "sent           %d\n", s.Sent)
	fmt.Fprintf(w, "acked          %d in %d batches (lost %d, spool_left %d, dropped %d, refused %d)\n", s.Acked, s.Batches, s.Lost, s.SpoolLeft, s.Dropped, s.Refused)
	fmt.Fprintf(w, "ack_p50_ms     %.1f\n", s.AckP50)
	fmt.Fprintf(w, "ack_p99_ms     %.1f (max %.1f)\n", s.AckP99, s.AckMax)
	fmt.Fprintf(w, "records_per_s  %.0f\n", s.RecordsPerS)
	if s.Mode == "outage" {
		fmt.Fprintf(w, "outage_s       %.1f (backlog %d records)\n", s.OutageS, s.Backlog)
		fmt.Fprintf(w, "catchup_s      %.1f\n", s.CatchupS)
	}
	fmt.Fprintf(w, "loadgen        %.0f MiB heap, %d goroutines, fd limit %d\n", s.HeapMiB, s.Goroutines, s.MaxFDs)
	for _, p := range s.Problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
	if s.OK {
		fmt.Fprintln(w, "OK: every enrollment succeeded, every record sent was acked")
	} else {
		fmt.Fprintln(w, "FAILED: see the problems above")
	}
}
