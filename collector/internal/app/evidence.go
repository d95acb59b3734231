package app

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/buildinfo"
)

// CheckpointEvery is how often the running collector signs the audit
// chain's head.
const CheckpointEvery = time.Hour

// EvidenceKey returns the data dir's evidence signing key, creating it on
// first use.
func (e *Env) EvidenceKey() (ed25519.PrivateKey, error) {
	key, created, err := evidence.LoadOrCreateKey(e.Cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		e.Log.Info("created evidence signing key", "file", evidence.KeyFile,
			"fingerprint", evidence.Fingerprint(key.Public().(ed25519.PublicKey)))
	}
	return key, nil
}

// evidenceSource is the store as an evidence export reads it.
func (e *Env) evidenceSource() (evidence.Source, error) {
	src, ok := e.Store.(evidence.Source)
	if !ok {
		return nil, fmt.Errorf("the %T store keeps no audit chain: evidence export needs the SQL store (SQLite or PostgreSQL)", e.Store)
	}
	return src, nil
}

// ExportEvidence writes the evidence bundle of [from, to) to w (see
// evidence.Export), with the configuration map as buildMap builds it and
// zone pairs judged by the zones file's firewall map.
func (e *Env) ExportEvidence(ctx context.Context, w io.Writer, from, to time.Time, actor string) (evidence.Manifest, error) {
	src, err := e.evidenceSource()
	if err != nil {
		return evidence.Manifest{}, err
	}
	key, err := e.EvidenceKey()
	if err != nil {
		return evidence.Manifest{}, err
	}
	opt := evidence.Options{From: from, To: to, Key: key, Actor: actor, Version: buildinfo.String(), BuildMap: e.buildMap}
	if m := e.Zones; m != nil {
		pairs := map[[2]string]bool{}
		for _, r := range m.Rules() {
			pairs[[2]string{r.From, r.To}] = true
		}
		opt.Allowed = func(from, to string) bool { return pairs[[2]string{from, to}] }
	}
	return evidence.Export(ctx, w, src, opt)
}

// GatherReview reads the management-review report of a year from the
// store (evidence.GatherReport).
func (e *Env) GatherReview(ctx context.Context, year int) (evidence.Review, error) {
	src, err := e.evidenceSource()
	if err != nil {
		return evidence.Review{}, err
	}
	return evidence.GatherReport(ctx, src, evidence.ReportOptions{Year: year})
}

// RecordReview notes in the audit log that actor made the management-review
// report of year (evidence.AuditReview): the report is a state change of the
// yearly duties, and the next review falls due a year later.
func (e *Env) RecordReview(ctx context.Context, year int, actor, file string) error {
	src, err := e.evidenceSource()
	if err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]string{"file": filepath.Base(file)})
	_, err = src.AppendAudit(ctx, model.AuditEvent{At: time.Now(), Actor: actor, Action: evidence.AuditReview,
		Subject: fmt.Sprintf("year %d", year), Detail: string(detail)})
	return err
}

// CheckAuditChain verifies the whole audit log and its checkpoints.
func (e *Env) CheckAuditChain(ctx context.Context) (evidence.ChainResult, error) {
	src, err := e.evidenceSource()
	if err != nil {
		return evidence.ChainResult{}, err
	}
	key, err := e.EvidenceKey()
	if err != nil {
		return evidence.ChainResult{}, err
	}
	return evidence.VerifyChain(ctx, src, key.Public().(ed25519.PublicKey))
}

// startCheckpoints signs the audit chain's head every CheckpointEvery until
// ctx ends; stop waits for it. Without an audit chain or a key it logs why
// and does nothing.
func (e *Env) startCheckpoints(ctx context.Context) (stop func()) {
	src, err := e.evidenceSource()
	var key ed25519.PrivateKey
	if err == nil {
		key, err = e.EvidenceKey()
	}
	if err != nil {
		e.Log.Error("audit checkpoints are off", "err", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c := &evidence.Checkpointer{Store: src, Key: key, Log: e.Log.With("part", "evidence")}
	go func() {
		defer close(done)
		if err := c.Run(ctx, CheckpointEvery); err != nil && !errors.Is(err, context.Canceled) {
			e.Log.Error("audit checkpoints stopped", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
