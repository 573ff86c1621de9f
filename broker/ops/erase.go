package ops

// Erasure (docs/operations.md, "Erasure"): remove a child's personal data
// from the index, the consent history, the ingest streams (ECM_INGEST and the
// publisher's own, which keeps an event for the duplicate window), the
// delivery stream and the dead letters (and what operators noted about them:
// triage.go), with JetStream's secure delete (the
// stored bytes are overwritten, not only marked deleted). The audit is not touched: its
// records hold the child only as its keyed hash, never the UIN or any event
// data, so the chain stays verifiable and the disclosures stay accountable.
// The erasure itself is audited on the child's audit subject.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// minReasonLen keeps erasures explained; the reason is kept in the audit, so
// it must not itself identify the child (erasereason.go).
const minReasonLen = 10

// Erase removes a child's personal data (see the top of this file).
func (b *Ops) Erase(ctx context.Context, operator, child, reason string) (*api.ErasureResult, error) {
	if err := uin.Check(child); err != nil {
		return nil, fmt.Errorf("child: %w", err)
	}
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) < minReasonLen {
		return nil, fmt.Errorf("reason: say why, in at least %d characters", minReasonLen)
	}
	key := b.children.Key(child)
	// Kept in the audit: refused if it names the child (erasereason.go).
	if err := b.checkErasureReasonFor(ctx, reason, child, key); err != nil {
		return nil, err
	}
	res := &api.ErasureResult{ID: randomHex(8), ChildKey: key, Operator: operator, Reason: reason, At: time.Now().UTC().Format(time.RFC3339Nano)}
	runErr := b.erase(ctx, child, key, res)
	action := &api.AuditAction{Kind: "erasure", ID: res.ID, By: operator, Reason: reason, Counts: map[string]int{
		"ingest": res.Ingest, "deliveries": res.Deliveries, "dead_letters": res.DeadLetters, "index_record": boolInt(res.IndexRecord)}}
	if runErr != nil {
		action.Error = runErr.Error()
	}
	rec := api.AuditRecord{ChildKey: key, Type: "erasure", Publisher: "broker", DecidedAt: res.At, PolicyRevision: b.decider.Policy().Revision,
		Outcome: "erased", Decisions: []api.Decision{}, Action: action}
	if err := b.audit.Action(ctx, rec, "erasure", res.ID); err != nil && runErr == nil {
		runErr = fmt.Errorf("erased, but the erasure record was not written: %w", err)
	}
	b.log.Info("erasure", zap.String("id", res.ID), zap.String("operator", operator), zap.String("child_key", key),
		zap.Int("ingest", res.Ingest), zap.Int("deliveries", res.Deliveries), zap.Int("dead_letters", res.DeadLetters), zap.Error(runErr))
	return res, runErr
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (b *Ops) erase(ctx context.Context, child, key string, res *api.ErasureResult) error {
	found, err := b.findChild(ctx, child)
	if err != nil {
		return err
	}
	recs, err := b.auditLog.Child(ctx, key)
	if err != nil {
		return err
	}
	// The copies to find: every event of the child, and every event the
	// broker generated about it.
	ids := map[string]bool{}
	earliest := time.Now()
	for _, m := range found.ingest {
		raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		if err == nil {
			src, _ := raw.String("source")
			id, _ := raw.String("id")
			ids[cenats.MsgID(src, id)] = true
		}
		if m.Time.Before(earliest) {
			earliest = m.Time
		}
	}
	for _, r := range recs {
		if r.EventID != "" {
			ids[cenats.MsgID(r.Source, r.EventID)] = true
		}
		if t, err := time.Parse(time.RFC3339Nano, r.DecidedAt); err == nil && t.Before(earliest) {
			earliest = t
		}
	}
	ingest, err := b.js.Stream(ctx, wire.StreamIngest)
	if err != nil {
		return err
	}
	for _, m := range found.ingest {
		if err := secureDelete(ctx, ingest, m.Seq); err != nil {
			return fmt.Errorf("deleting event %d: %w", m.Seq, err)
		}
		if err := b.deleteOrigin(ctx, m); err != nil {
			return fmt.Errorf("deleting event %d: %w", m.Seq, err)
		}
		res.Ingest++
	}
	// Copies: found by message id (<source>#<id>@<participant>).
	var copies []uint64
	if len(ids) > 0 {
		err = store.Scan(ctx, b.js, wire.StreamDelivery, store.ScanOpts{HeadersOnly: true, StartTime: earliest.Add(-time.Minute)},
			func(m store.Msg) error {
				id := m.Header.Get(jetstream.MsgIDHeader)
				if i := strings.LastIndexByte(id, '@'); i > 0 && ids[id[:i]] {
					copies = append(copies, m.Seq)
				}
				return nil
			})
		if err != nil {
			return err
		}
	}
	delivery, err := b.js.Stream(ctx, wire.StreamDelivery)
	if err != nil {
		return err
	}
	for _, seq := range copies {
		if err := secureDelete(ctx, delivery, seq); err != nil {
			return fmt.Errorf("deleting copy %d: %w", seq, err)
		}
		res.Deliveries++
	}
	// What operators did about those dead letters: notes are operator text
	// that must not carry child data, but are erased with their dead letter
	// all the same (triage.go), first: a run stopped between the two finds
	// the dead letter, and so its triage, again.
	seqs := make([]uint64, len(found.deadLetters))
	for i, m := range found.deadLetters {
		seqs[i] = m.Seq
	}
	if _, err := b.eraseTriage(ctx, seqs); err != nil {
		return err
	}
	dls, err := b.js.Stream(ctx, wire.StreamDeadLetter)
	if err != nil {
		return err
	}
	for _, m := range found.deadLetters {
		if err := secureDelete(ctx, dls, m.Seq); err != nil {
			return fmt.Errorf("deleting dead letter %d: %w", m.Seq, err)
		}
		res.DeadLetters++
	}
	// The index record and consent history. The bucket's stream refuses
	// message deletes (and that cannot be lifted), so the key is purged: the
	// entry is gone from the stream at once, a marker holding only the key
	// remains, and the entry's bytes stay in the store's file until its block
	// is compacted (docs/operations.md).
	_, err = b.children.KV().Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("reading the child's record: %w", err)
	default:
		res.IndexRecord = true
	}
	if err := b.children.Delete(ctx, key); err != nil {
		return fmt.Errorf("purging the child's record: %w", err)
	}
	return nil
}

// deleteOrigin removes the copy of an ECM_INGEST event that its publisher's
// own stream keeps for the duplicate window (wire.IngestStream); after the
// window it is gone already, as is the stream of a participant an
// administrator deleted.
func (b *Ops) deleteOrigin(ctx context.Context, m store.Msg) error {
	name, seq, ok := wire.ParseSourced(m.Header.Get(wire.HeaderSourced))
	if !ok || !strings.HasPrefix(name, wire.IngestStreamPrefix) {
		return nil // stored before the participants' streams existed
	}
	s, err := b.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return secureDelete(ctx, s, seq)
}

// secureDelete overwrites and removes one message; one already gone is fine.
func secureDelete(ctx context.Context, s jetstream.Stream, seq uint64) error {
	err := s.SecureDeleteMsg(ctx, seq)
	if err != nil && (errors.Is(err, jetstream.ErrMsgNotFound) || strings.Contains(err.Error(), "no message found")) {
		return nil
	}
	return err
}
