package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit/chain"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Writer is the write side of the audit: one method per kind of entry. Every
// entry is linked into this instance's hash chains and acknowledged only once
// JetStream has stored it; the futures it returns resolve then.
type Writer struct {
	chain *chainer
	every time.Duration
}

// NewWriter loads (or creates) the checkpoint signing key and prepares the
// chains. failing is called when a record cannot be stored (readiness).
func NewWriter(ctx context.Context, js jetstream.JetStream, c *config.Config, log *zap.Logger, failing func(error)) (*Writer, error) {
	key, err := signingKey(ctx, js, c)
	if err != nil {
		return nil, err
	}
	if c.AuditSigningKey == "" {
		log.Warn("audit checkpoints are signed with a key kept in the broker's own state; set audit_signing_key " +
			"so that someone who can change the store cannot sign for the broker")
	}
	w := &Writer{chain: newChainer(js, log, key, failing), every: c.AuditCheckpointEvery}
	log.Info("audit checkpoints signed", zap.String("public_key", w.PublicKey()), zap.String("instance", w.chain.instance))
	// Records submitted before Run's goroutines start are queued.
	w.chain.running.Store(true)
	return w, nil
}

// Run writes records and checkpoints until ctx ends, then a last checkpoint.
func (w *Writer) Run(ctx context.Context) { w.chain.run(ctx, w.every) }

// Decision stores the record of a decided event, once per event: a
// redelivered event's record is dropped by JetStream as a duplicate.
func (w *Writer) Decision(rec api.AuditRecord) (jetstream.PubAckFuture, error) {
	return w.chain.submit(rec, wire.AuditMsgID(rec.Source, rec.EventID))
}

// Copies stores the record of what became of an event's copies, once their
// publishes resolved (the decision that allowed them was stored before
// they went out). Once per event, like Decision.
func (w *Writer) Copies(rec api.AuditRecord) (jetstream.PubAckFuture, error) {
	return w.chain.submit(rec, wire.AuditCopiesMsgID(rec.Source, rec.EventID))
}

// Rejected stores the record of an input refused before it was decided
// (inputID names the input, as its dead letter does).
func (w *Writer) Rejected(rec api.AuditRecord, inputID string) (jetstream.PubAckFuture, error) {
	return w.chain.submit(rec, wire.AuditRejectedMsgID(inputID))
}

// Action stores the record of what an operator did and waits until it is
// stored: an operation whose record is not kept must not be reported done.
func (w *Writer) Action(ctx context.Context, rec api.AuditRecord, kind, id string) error {
	f, err := w.ActionAsync(rec, kind, id)
	if err != nil {
		return err
	}
	return Await(ctx, f)
}

// ActionAsync stores a record of an operator's action without waiting (a
// replay's records of the copies it sends to a child, awaited together).
func (w *Writer) ActionAsync(rec api.AuditRecord, kind, id string) (jetstream.PubAckFuture, error) {
	return w.chain.submit(rec, wire.AuditActionMsgID(kind, id))
}

// Checkpoint writes a checkpoint now (tests, and operators who want the
// newest records covered before a copy is taken).
func (w *Writer) Checkpoint(ctx context.Context) error { return w.chain.checkpoint(ctx) }

// PublicKey is the base64 Ed25519 public key checkpoints are signed with.
func (w *Writer) PublicKey() string {
	return base64.StdEncoding.EncodeToString(w.chain.key.Public().(ed25519.PublicKey))
}

// TrustedKeys are the public keys whose checkpoints verification accepts: the
// signing key's and audit_verify_keys (earlier keys, after a rotation).
func (w *Writer) TrustedKeys(c *config.Config) map[string]bool {
	keys := map[string]bool{w.PublicKey(): true}
	for _, k := range c.AuditVerifyKeys {
		keys[strings.TrimSpace(k)] = true
	}
	return keys
}

// Await waits for publishes in order; the first error stops it.
func Await(ctx context.Context, fs ...jetstream.PubAckFuture) error {
	for _, f := range fs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Reader is the read side of the audit.
type Reader struct {
	js jetstream.JetStream
}

// NewReader reads the audit through js.
func NewReader(js jetstream.JetStream) *Reader { return &Reader{js: js} }

// Child reads every audit record of a child (by child key; "_ops" for the
// operator actions that concern no single child), oldest first.
func (r *Reader) Child(ctx context.Context, key string) ([]api.AuditRecord, error) {
	recs, _, err := r.ChildRecords(ctx, key)
	return recs, err
}

// ChildRecords is Child, and says how many records the stream counts for the
// child but could not return (lost from a damaged block): a report built
// from the records names that gap rather than waiting for them.
func (r *Reader) ChildRecords(ctx context.Context, key string) ([]api.AuditRecord, uint64, error) {
	var out []api.AuditRecord
	lost, err := store.ScanCounting(ctx, r.js, wire.StreamAudit, store.ScanOpts{Filter: []string{wire.AuditSubject(key)}}, func(m store.Msg) error {
		var rec api.AuditRecord
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			return nil // not a record this version reads; verification reports it
		}
		out = append(out, rec)
		return nil
	})
	return out, lost, err
}

// Verify walks an audit stream (ECM_AUDIT, or a copy of it) and reports every
// broken link. progress, when given, is called now and then with the records
// read so far.
func (r *Reader) Verify(ctx context.Context, stream string, keys map[string]bool, progress func(done, total uint64)) (api.VerifyReport, error) {
	return r.VerifyWith(ctx, stream, VerifyOptions{Keys: keys, Progress: progress})
}

// VerifyOptions say what VerifyWith checks and answers.
type VerifyOptions struct {
	Keys        map[string]bool // trusted checkpoint keys
	ExpectHeads []api.ChainHead // heads kept outside the broker (chain.ExpectHeads)
	Heads       bool            // answer with the signed heads reached
	Progress    func(done, total uint64)
}

// VerifyWith walks an audit stream as Verify does, against heads saved
// outside the broker when given. ECM_AUDIT itself is also checked for
// missing sequences (it refuses deletes: a gap is a message the store lost).
func (r *Reader) VerifyWith(ctx context.Context, stream string, o VerifyOptions) (api.VerifyReport, error) {
	opts := []chain.Option{chain.ExpectHeads(o.ExpectHeads)}
	if stream == wire.StreamAudit {
		opts = append(opts, chain.Contiguous())
	}
	v := chain.NewVerifier(stream, o.Keys, opts...)
	err := store.Scan(ctx, r.js, stream, store.ScanOpts{Progress: o.Progress}, func(m store.Msg) error {
		v.Add(chain.Msg{Seq: m.Seq, Subject: m.Subject, Header: m.Header, Data: m.Data})
		return nil
	})
	if err != nil {
		return api.VerifyReport{}, err
	}
	rep := v.Report()
	if o.Heads {
		rep.SignedHeads = v.SignedHeads()
	}
	return rep, nil
}
