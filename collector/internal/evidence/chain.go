package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// ChainStore is what the chain functions read and write.
type ChainStore interface {
	model.AuditChainStore
	AppendAudit(ctx context.Context, e model.AuditEvent) (int64, error)
}

// EntryHash is an audit entry's hash given the previous one's: see
// model.ChainHash for the encoding.
func EntryHash(prev []byte, e model.AuditEntry) []byte { return e.Rehash(prev) }

// CheckpointMessage is the exact text a checkpoint's signature covers:
//
//	sonevakt-audit-checkpoint-v1
//	seq <seq>
//	head <hash, hex>
//	at <Unix nanoseconds>
//	key <fingerprint>
//
// each line ending in a line feed.
func CheckpointMessage(seq int64, head []byte, at time.Time, fingerprint string) []byte {
	var b bytes.Buffer
	b.WriteString("sonevakt-audit-checkpoint-v1\n")
	b.WriteString("seq " + strconv.FormatInt(seq, 10) + "\n")
	b.WriteString("head " + hex.EncodeToString(head) + "\n")
	b.WriteString("at " + strconv.FormatInt(at.UnixNano(), 10) + "\n")
	b.WriteString("key " + fingerprint + "\n")
	return b.Bytes()
}

// SignCheckpoint makes the checkpoint of entry e, signed with key.
func SignCheckpoint(key ed25519.PrivateKey, e model.AuditEntry, at time.Time) model.AuditCheckpoint {
	pub := key.Public().(ed25519.PublicKey)
	fp := Fingerprint(pub)
	at = at.UTC()
	return model.AuditCheckpoint{
		Seq: e.Seq, Head: e.Hash, At: at, Fingerprint: fp,
		Signature: ed25519.Sign(key, CheckpointMessage(e.Seq, e.Hash, at, fp)),
	}
}

// VerifyCheckpoint checks c's signature with pub and that it names pub.
func VerifyCheckpoint(pub ed25519.PublicKey, c model.AuditCheckpoint) error {
	if fp := Fingerprint(pub); c.Fingerprint != fp {
		return fmt.Errorf("checkpoint seq %d: signed by key %s, want %s", c.Seq, c.Fingerprint, fp)
	}
	if !ed25519.Verify(pub, CheckpointMessage(c.Seq, c.Head, c.At, c.Fingerprint), c.Signature) {
		return fmt.Errorf("checkpoint seq %d: signature does not verify with key %s", c.Seq, c.Fingerprint)
	}
	return nil
}

// Checkpoint signs the chain's head and stores the checkpoint, unless the
// newest checkpoint already covers it; it returns the newest checkpoint.
// ErrNotFound (wrapped) for an empty log.
func Checkpoint(ctx context.Context, st ChainStore, key ed25519.PrivateKey, now time.Time) (model.AuditCheckpoint, error) {
	head, err := st.AuditHead(ctx)
	if err != nil {
		return model.AuditCheckpoint{}, err
	}
	last, err := st.LastAuditCheckpoint(ctx)
	switch {
	case err == nil && last.Seq >= head.Seq && last.Fingerprint == Fingerprint(key.Public().(ed25519.PublicKey)):
		return last, nil
	case err != nil && !errors.Is(err, model.ErrNotFound):
		return model.AuditCheckpoint{}, err
	}
	c := SignCheckpoint(key, head, now)
	if c.ID, err = st.SaveAuditCheckpoint(ctx, c); err != nil {
		return model.AuditCheckpoint{}, err
	}
	return c, nil
}

// Checkpointer signs the audit chain's head at intervals, so that even
// between exports the log cannot be rewritten unseen.
type Checkpointer struct {
	Store ChainStore
	Key   ed25519.PrivateKey
	Log   *slog.Logger
	Now   func() time.Time // time.Now when nil
}

// Run takes a checkpoint at once and then every interval until ctx is done;
// errors are logged, not fatal. It returns ctx's error.
func (c *Checkpointer) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		c.tick(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Checkpointer) tick(ctx context.Context) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	_, err := Checkpoint(ctx, c.Store, c.Key, now())
	if err != nil && !errors.Is(err, model.ErrNotFound) && ctx.Err() == nil && c.Log != nil {
		c.Log.ErrorContext(ctx, "audit checkpoint failed", "err", err)
	}
}

// ChainBreak names the first entry where the chain does not hold.
type ChainBreak struct {
	Seq    int64
	Reason string
}

func (b *ChainBreak) Error() string {
	return fmt.Sprintf("audit log: entry seq %d: %s", b.Seq, b.Reason)
}

// ChainResult is what VerifyChain found on an intact chain.
type ChainResult struct {
	Entries     int64
	HeadSeq     int64
	HeadHash    []byte
	Checkpoints int // checkpoints checked against the chain
}

// VerifyChain walks the whole audit log from its first entry and returns a
// *ChainBreak at the first entry that does not hold: a seq that does not
// follow its predecessor (a deleted entry, or entries out of order), a
// missing hash, or a hash that does not match the entry's content and the
// previous hash (an edited field, a moved entry). With pub, every stored
// checkpoint must verify and name the hash the chain has at its seq, so that
// a log rewritten with fresh hashes is caught too.
func VerifyChain(ctx context.Context, st model.AuditChainStore, pub ed25519.PublicKey) (ChainResult, error) {
	var cps map[int64][]model.AuditCheckpoint
	if pub != nil {
		list, err := st.AuditCheckpoints(ctx, 0, 0)
		if err != nil {
			return ChainResult{}, err
		}
		cps = map[int64][]model.AuditCheckpoint{}
		for _, c := range list {
			if err := VerifyCheckpoint(pub, c); err != nil {
				return ChainResult{}, &ChainBreak{Seq: c.Seq, Reason: err.Error()}
			}
			cps[c.Seq] = append(cps[c.Seq], c)
		}
	}
	var res ChainResult
	prev, prevSeq := model.GenesisHash, int64(0)
	err := st.EachAuditEntry(ctx, 0, 0, func(e model.AuditEntry) error {
		if err := link(prevSeq, prev, e); err != nil {
			return err
		}
		for _, c := range cps[e.Seq] {
			if !bytes.Equal(c.Head, e.Hash) {
				return &ChainBreak{Seq: e.Seq, Reason: fmt.Sprintf("hash differs from the signed checkpoint of %s", c.At.Format(time.RFC3339))}
			}
			res.Checkpoints++
		}
		prev, prevSeq = e.Hash, e.Seq
		res.Entries++
		return nil
	})
	if err != nil {
		return ChainResult{}, err
	}
	for seq := range cps {
		if seq > prevSeq {
			return ChainResult{}, &ChainBreak{Seq: seq, Reason: fmt.Sprintf("a signed checkpoint names it but the log ends at seq %d (entries removed from the end)", prevSeq)}
		}
	}
	res.HeadSeq, res.HeadHash = prevSeq, prev
	return res, nil
}

// link checks that e follows the entry prevSeq with hash prev.
func link(prevSeq int64, prev []byte, e model.AuditEntry) error {
	switch {
	case e.Seq != prevSeq+1 && e.Seq <= prevSeq:
		return &ChainBreak{Seq: e.Seq, Reason: fmt.Sprintf("out of order: comes after seq %d", prevSeq)}
	case e.Seq != prevSeq+1:
		return &ChainBreak{Seq: e.Seq, Reason: fmt.Sprintf("seq does not follow %d: entries %d to %d are missing", prevSeq, prevSeq+1, e.Seq-1)}
	case len(e.Hash) == 0:
		return &ChainBreak{Seq: e.Seq, Reason: "has no hash"}
	case !bytes.Equal(e.Rehash(prev), e.Hash):
		return &ChainBreak{Seq: e.Seq, Reason: "hash does not match its content"}
	}
	return nil
}
