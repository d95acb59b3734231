// Package app wires the collector: store, CA and enrollment authority, the agent
// listener and the HTTPS UI/API, and shuts them down in order. The command-line
// verbs that act on a data dir (tokens, API tokens, password reset, revocation)
// live here too, so the binary's main only parses flags.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/config"
	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/ingest"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
	"github.com/sonevakt/sonevakt/collector/internal/store"
	"github.com/sonevakt/sonevakt/collector/internal/web"
	"github.com/sonevakt/sonevakt/pkg/clock"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Env is an opened data dir: store and authority, shared by serve and the
// one-shot commands.
type Env struct {
	Cfg       config.Config
	Log       *slog.Logger
	Store     model.Store
	CA        *pki.CA
	Authority *enroll.Authority
	// Zones is the zones file's zone table and firewall map; nil without one.
	Zones *zone.Map

	routing routing
}

// Open opens the store and the CA of a data dir, creating both on first use.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Env, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(cfg.CADir(), 0o700); err != nil {
		return nil, fmt.Errorf("CA dir: %w", err)
	}
	ca, created, err := pki.LoadOrCreateCA(cfg.CADir(), "Sonevakt collector CA", clock.Now())
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if created {
		log.Info("created collector CA", "dir", cfg.CADir(), "pin", pki.Pin(ca.Cert))
	}
	zones, err := cfg.ZoneMap()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.StoreDSN(), log.With("part", "store"))
	if err != nil {
		return nil, err
	}
	return &Env{
		Cfg: cfg, Log: log, Store: st, CA: ca, Zones: zones,
		Authority: enroll.New(ca, st, enroll.Options{
			Logger: log.With("part", "enroll"), CertTTL: cfg.AgentCertTTL, Now: clock.Now,
			AttemptBurst: cfg.EnrollBurst, AttemptRate: cfg.EnrollRate,
		}),
	}, nil
}

// Close closes the store.
func (e *Env) Close() error { return e.Store.Close() }

// Serve runs the agent listener and the web server until ctx is done. ready, if
// not nil, receives the bound addresses once both listen.
func (e *Env) Serve(ctx context.Context, fault ingest.Fault, ready func(agents, web net.Addr)) error {
	log := e.Log
	if pw, created, err := web.EnsureAdmin(ctx, e.Store, time.Now()); err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	} else if created {
		fmt.Fprintf(os.Stdout, "\nFirst start: created user \"admin\" with password\n\n    %s\n\nIt is shown once. Reset it with 'sonevakt-collector admin reset-password --data %s'.\n\n", pw, e.Cfg.DataDir)
	}
	agentTLS, err := e.Authority.ServerTLS(e.Cfg.Names)
	if err != nil {
		return err
	}
	resetKey, err := e.Authority.ResetKey()
	if err != nil {
		return err
	}
	if err := e.SyncPolicy(ctx); err != nil {
		return err
	}
	if err := e.reloadRouting(ctx); err != nil {
		return err
	}
	notifier, err := e.newNotifier()
	if err != nil {
		return err
	}
	// Live updates of open pages (GET /events); with replicas sharing a
	// PostgreSQL store, relayed to and from the others.
	var rl *relay
	hubOpts := web.HubOptions{}
	if feed, ok := e.Store.(changeFeed); ok && feed.Changes() != nil {
		rl = newRelay(feed, log.With("part", "relay"))
		hubOpts.Relay = rl.add
	}
	live := web.NewHub(hubOpts)
	defer live.Close()
	onChange := func([]model.RecordResult) { live.Publish(web.TopicDeviations) }
	if notifier != nil {
		dctx, dcancel := context.WithCancel(ctx)
		ddone := make(chan struct{})
		go func() { defer close(ddone); _ = notifier.disp.Run(dctx) }()
		defer func() { dcancel(); <-ddone }() // after the engine stopped, before the store closes
		onChange = func(res []model.RecordResult) {
			live.Publish(web.TopicDeviations)
			notifier.deviationsChanged(ctx, res)
		}
	}
	engine, err := e.newEngine(onChange)
	if err != nil {
		return err
	}
	seen := &seenAgents{m: map[string]bool{}}
	srv := ingest.New(ingest.Config{
		Store: e.Store, Authority: e.Authority, TLS: agentTLS, ResetKey: resetKey,
		Logger: log.With("part", "ingest"), Fault: fault, Now: clock.Now,
		OnCommit: func(agentID string, res model.IngestResult) {
			live.Publish(liveTopics(res)...)
			if seen.first(agentID) {
				engine.WakeHosts() // a new or returning agent: is it registered?
			}
			if res.Media > 0 || res.Flows > 0 {
				engine.Wake()
			}
			if res.Inventories > 0 {
				engine.WakeSoftware() // and the host rules, at most once per HostWakeGap
			}
		},
		OnHealth: engine.Health, // spool-dropped
	})
	if err := srv.Listen(e.Cfg.AgentsAddr); err != nil {
		return err
	}
	stopEngine := startEngine(ctx, engine)
	defer stopEngine()
	if rl != nil {
		rctx, rcancel := context.WithCancel(ctx)
		rdone := make(chan struct{})
		go func() {
			defer close(rdone)
			rl.run(rctx, func(topics []string) {
				live.PublishRemote(topics...)
				if slices.Contains(topics, web.TopicRegisters) || slices.Contains(topics, "*") {
					// Another replica changed a register, the policy or the
					// organisation: follow it here too.
					srv.PolicyChanged()
					if err := e.reloadRouting(rctx); err != nil && rctx.Err() == nil {
						log.Error("a register changed on another replica, but routing could not follow", "err", err)
					}
					engine.WakeHosts()
				}
			})
		}()
		defer func() { rcancel(); <-rdone }()
	}
	stopSnapshots := e.startSnapshots(ctx)
	defer stopSnapshots()
	stopCheckpoints := e.startCheckpoints(ctx)
	defer stopCheckpoints()
	duties, stopDuties := e.startDuties(ctx, notifier)
	defer stopDuties()
	webTLS, err := e.webTLS()
	if err != nil {
		return err
	}
	ws, err := web.New(web.Config{
		Store: e.Store, Logger: log.With("part", "web"), Secure: true,
		Traffic: e.Store, Zones: func() *zone.Map { return e.Zones },
		ConfigMap: e.buildMap, MapSnapshots: e.Store, Live: live,
		CreateEnrollToken: func(ctx context.Context, ttl time.Duration, uses int, actor string) (string, model.EnrollToken, error) {
			tok, rec, err := e.Authority.CreateToken(ctx, ttl, uses, actor)
			return tok.String(), rec, err
		},
		RevokeAgent: e.Authority.Revoke,
		ExportEvidence: func(ctx context.Context, w io.Writer, from, to time.Time, actor string) error {
			_, err := e.ExportEvidence(ctx, w, from, to, actor)
			return err
		},
		Duties:        duties.Duties,
		ParseMediaCSV: webParseMediaCSV, WriteMediaCSV: register.WriteMediaCSV,
		ParseAssetsCSV: webParseAssetsCSV, WriteAssetsCSV: register.WriteAssetsCSV,
		ParseSoftwareCSV: webParseSoftwareCSV, WriteSoftwareCSV: register.WriteSoftwareCSV,
		AssetsChanged:          func(context.Context) { engine.WakeHosts() },
		SoftwareCatalogChanged: func(context.Context) { engine.WakeSoftware() },
		OrgChanged: func(ctx context.Context) {
			if err := e.reloadRouting(ctx); err != nil {
				log.ErrorContext(ctx, "organisation register changed, but routing could not follow", "err", err)
			}
			engine.WakeHosts()
		},
		SyncPolicy: func(ctx context.Context) error {
			if err := e.SyncPolicy(ctx); err != nil {
				return err
			}
			srv.PolicyChanged()
			return nil
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.Cfg.WebAddr)
	if err != nil {
		return fmt.Errorf("listen web %s: %w", e.Cfg.WebAddr, err)
	}
	hs := &http.Server{
		Handler: ws.Handler(), TLSConfig: webTLS,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.With("part", "http").Handler(), slog.LevelWarn),
	}
	log.Info("collector listening", "agents", srv.Addr().String(), "web", "https://"+ln.Addr().String())
	if ready != nil {
		ready(srv.Addr(), ln.Addr())
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ctx) }()
	go func() {
		if err := hs.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("web: %w", err)
			return
		}
		errc <- nil
	}()
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	live.Close() // Shutdown waits for the event streams, which end only on this
	_ = hs.Shutdown(sctx)
	log.Info("collector stopped")
	return first
}

func (e *Env) webTLS() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.Cfg.WebCert != "" {
		c, err := tls.LoadX509KeyPair(e.Cfg.WebCert, e.Cfg.WebKey)
		if err != nil {
			return nil, fmt.Errorf("web certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{c}
		return conf, nil
	}
	host, _ := os.Hostname()
	names := append([]string{"localhost", "127.0.0.1", "::1"}, e.Cfg.Names...)
	if host != "" {
		names = append(names, host)
	}
	der, key, err := e.CA.ServerCert(names, 365*24*time.Hour, clock.Now())
	if err != nil {
		return nil, err
	}
	conf.Certificates = []tls.Certificate{{Certificate: [][]byte{der, e.CA.Cert.Raw}, PrivateKey: key}}
	return conf, nil
}

// liveTopics are the live-update topics an agent's committed batch touches.
func liveTopics(res model.IngestResult) []string {
	t := []string{web.TopicHosts, web.TopicMap, web.TopicAgents}
	if res.Media > 0 {
		t = append(t, web.TopicMedia)
	}
	if res.Flows > 0 {
		t = append(t, web.TopicTraffic)
	}
	return t
}

// seenAgents remembers which agents committed since the collector started.
type seenAgents struct {
	mu sync.Mutex
	m  map[string]bool
}

// first reports whether this is the agent's first commit since start.
func (s *seenAgents) first(agentID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[agentID] {
		return false
	}
	s.m[agentID] = true
	return true
}
