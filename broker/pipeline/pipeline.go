package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// fetchBatch is how many ingest messages one pass takes. Deliveries and audit
// records of a batch are published asynchronously and awaited together, then
// child states are written, then the messages are acknowledged: nothing is
// acknowledged before everything it caused is durably stored.
const fetchBatch = 256

// consume runs the pipeline on one partition consumer until ctx ends. The
// consumer is pinned: while this instance pulls, no other instance gets the
// partition's events, so a child's events are processed one after another.
func (b *Pipeline) Consume(ctx context.Context, name string) error {
	cons, err := b.JS.Consumer(ctx, wire.StreamIngest, name)
	if err != nil {
		return fmt.Errorf("opening consumer %s: %w", name, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2*fetchBatch), jetstream.PullPriorityGroup(wire.PriorityGroup))
	if err != nil {
		return fmt.Errorf("consuming %s: %w", name, err)
	}
	defer iter.Stop()
	for ctx.Err() == nil {
		// Block for the first message, then take what is already buffered:
		// a trickle is processed at once, a burst in batches.
		first, err := iter.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			if !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
				b.Log.Warn("reading from ingest", zap.Error(err))
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		msgs := []jetstream.Msg{first}
		for len(msgs) < fetchBatch {
			m, err := iter.Next(jetstream.NextMaxWait(200 * time.Microsecond))
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		if err := b.processBatch(ctx, msgs); err != nil {
			b.Log.Error("batch not completed; its events will be redelivered", zap.Int("events", len(msgs)), zap.Error(err))
			for _, m := range msgs {
				_ = m.NakWithDelay(time.Second)
			}
		}
	}
	return nil
}

// pass is the work of one batch: the child states it changed and the
// publishes it is waiting for.
type pass struct {
	states     map[string]*cachedState
	order      []string
	futures    []jetstream.PubAckFuture // audit records and dead letters: stored first
	deliveries []*nats.Msg              // copies: published once the audit holds their records
	copyOf     []copyRef                // for each delivery, where its outcome is recorded
	copies     []*api.AuditRecord       // records of copies, written once the copies resolved
	resent     []uint64                 // second copies of events already applied (resent.go): removed
}

// copyRef is the entry of one copy in its event's record of copies.
type copyRef struct {
	rec *api.AuditRecord
	i   int
}

type cachedState struct {
	state child.State
	rev   uint64
	dirty bool
}

func (b *Pipeline) processBatch(ctx context.Context, msgs []jetstream.Msg) error {
	p := &pass{states: map[string]*cachedState{}}
	for _, m := range msgs {
		if err := b.process(ctx, p, m); err != nil {
			return err
		}
	}
	// Fail closed: a copy goes out only once the audit record that says why
	// is stored. If the audit cannot be written, nothing is delivered.
	if err := b.await(ctx, p.futures); err != nil {
		return err
	}
	if err := b.dropResent(ctx, p.resent); err != nil {
		return err
	}
	deliveries := make([]jetstream.PubAckFuture, 0, len(p.deliveries))
	for _, m := range p.deliveries {
		f, err := b.JS.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("publishing to %s: %w", m.Subject, err)
		}
		deliveries = append(deliveries, f)
	}
	if err := b.awaitCopies(ctx, p, deliveries); err != nil {
		return err
	}
	// What became of each copy, as JetStream answered: the decision record
	// says what was allowed, this one what was stored (docs/operations.md,
	// "What a disclosure is"). A batch whose record of copies is not stored
	// is done again; the copies are then recognised by their message ids.
	var records []jetstream.PubAckFuture
	for _, rec := range p.copies {
		rec.DecidedAt = time.Now().UTC().Format(time.RFC3339Nano)
		f, err := b.Audit.Copies(*rec)
		if err != nil {
			return err
		}
		records = append(records, f)
	}
	if err := b.await(ctx, records); err != nil {
		return err
	}
	b.auditOK.Store(true)
	b.AfterStored(b.processed.Add(int64(len(msgs))))
	var writes []func(context.Context) error
	for _, key := range p.order {
		cs := p.states[key]
		if !cs.dirty {
			continue
		}
		wait, err := b.Children.PutAsync(b.JS, key, cs.state, cs.rev)
		if err != nil {
			return fmt.Errorf("writing child state: %w", err)
		}
		writes = append(writes, wait)
	}
	for _, wait := range writes {
		if err := wait(ctx); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			b.Log.Warn("ack failed; the event will be redelivered and recognised", zap.Error(err))
		}
	}
	return nil
}

// await waits for audit records and dead letters.
func (b *Pipeline) await(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if wire.IsAuditSubject(f.Msg().Subject) {
				b.AuditFailing(err)
			}
			return fmt.Errorf("publishing to %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// awaitCopies waits for the copies and notes what became of each in its
// event's record of copies: stored at a sequence, or refused by its
// participant's delivery limit and held in the dead letters (limits.go)
// rather than failing the batch. Any other failure fails the batch.
func (b *Pipeline) awaitCopies(ctx context.Context, p *pass, futures []jetstream.PubAckFuture) error {
	for i, f := range futures {
		c := &p.copyOf[i].rec.Copies[p.copyOf[i].i]
		select {
		case ack := <-f.Ok():
			c.Status, c.DeliverySeq, c.StoredAt = api.CopyDelivered, ack.Sequence, time.Now().UTC().Format(time.RFC3339Nano)
			if !ack.Duplicate {
				b.Metrics.delivered.WithLabelValues(c.Participant, c.Basis).Inc()
			}
		case err := <-f.Err():
			dlSeq, held, herr := b.holdRefusedCopy(ctx, f.Msg(), err)
			if !held {
				return fmt.Errorf("publishing to %s: %w", f.Msg().Subject, err)
			}
			if herr != nil {
				return herr
			}
			c.Status, c.DeadLetterSeq = api.CopyRefused, dlSeq
			c.Reason = LimitReason(c.Participant, b.Config.DeliveryLimits.MaxPerParticipant)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *Pipeline) state(ctx context.Context, p *pass, key string) (*cachedState, error) {
	if cs, ok := p.states[key]; ok {
		return cs, nil
	}
	s, rev, err := b.Children.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	cs := &cachedState{state: s, rev: rev}
	p.states[key] = cs
	p.order = append(p.order, key)
	return cs, nil
}

// process takes one ingest message through validate, decide, deliver and
// audit, and applies it to the child's state.
func (b *Pipeline) process(ctx context.Context, p *pass, m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("reading message metadata: %w", err)
	}
	seq := meta.Sequence.Stream
	publisher, partition := wire.ParseIngestSubject(m.Subject())
	b.Metrics.eventsIn.WithLabelValues(publisher).Inc()
	msg := &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
	raw, err := cenats.Decode(msg)
	var ev *event.Event
	var probs []api.Problem
	if err != nil {
		probs = []api.Problem{{Field: "event", Reason: err.Error()}}
	} else if len(m.Data()) > event.MaxBytes {
		probs = []api.Problem{{Field: "event", Reason: fmt.Sprintf("is %d bytes, at most %d", len(m.Data()), event.MaxBytes)}}
	} else if _, known := b.Registry.Participant(publisher); !known {
		probs = []api.Problem{{Field: "publisher", Reason: fmt.Sprintf("subject %s is not a registered participant's ingest subject", m.Subject())}}
	} else if ev, probs = event.SafeValidate(raw, publisher); ev != nil && partition != uin.Partition(ev.Subject) {
		ev, probs = nil, []api.Problem{{Field: "partition", Reason: fmt.Sprintf("subject %s must end with the child's partition %s (ecm.ingest.<area>.<agency>.<partition>, see uin.Partition)",
			m.Subject(), uin.Partition(ev.Subject))}}
	} else if ev != nil && msg.Header.Get(jetstream.MsgIDHeader) != cenats.MsgID(ev.Source, ev.ID) {
		// Without it a retried publish is stored twice, and an id reused for
		// other content would be decided but its copies dropped as duplicates.
		ev, probs = nil, []api.Problem{{Field: "Nats-Msg-Id", Reason: "header must be the event's <source>#<id>, so that JetStream stores it once"}}
	}
	if len(probs) > 0 {
		fs, err := b.deadLetterAsync(publisher, msg, probs, fmt.Sprintf("ingest-%d", seq))
		if err != nil {
			return err
		}
		p.futures = append(p.futures, fs...)
		return nil
	}
	key := b.Children.Key(ev.Subject)
	cs, err := b.state(ctx, p, key)
	if err != nil {
		return err
	}
	if cs.state.LastSeq >= seq {
		return nil // applied before a crash or a lost ack: everything it caused is stored
	}
	if first, ok := cs.state.Sent(ev.Source, ev.ID); ok {
		return b.resent(ctx, p, msg, ev, publisher, seq, first) // sent again after the duplicate window
	}
	before := cs.state
	step := before.Next(ev, seq, b.Registry.Serves)
	if err := b.decideAndDeliver(ctx, p, ev, before.Index, before.Consent, seq, key, step.Applied); err != nil {
		return err
	}
	cs.state, cs.dirty = step.After, true
	for _, g := range step.Generated {
		if err := b.decideAndDeliver(ctx, p, g, step.After.Index, step.After.Consent, seq, key, child.Applied{}); err != nil {
			return err
		}
	}
	return nil
}

// decideAndDeliver evaluates the policy once for e and publishes the copies
// it allows and the audit record, which says what of e the child's state did
// not take (applied, child/order.go).
func (b *Pipeline) decideAndDeliver(ctx context.Context, p *pass, e *event.Event, x *api.IndexRecord, c *api.Consent, seq uint64, key string, applied child.Applied) error {
	start := time.Now()
	res := b.Decider.Decide(ctx, policy.Request{Event: e, Index: x, Consent: c})
	decisions, rev, perr := res.Decisions, res.Revision, res.Err
	b.Metrics.decisionSeconds.Observe(time.Since(start).Seconds())
	if perr != nil {
		b.Metrics.policyErrors.Inc()
		b.Log.Error("policy error: event denied to every candidate", zap.String("event_id", e.ID), zap.String("type", e.Type), zap.Error(perr))
	}
	rec := api.AuditRecord{IngestSeq: seq, EventID: e.ID, Source: e.Source, Type: e.Type, Publisher: e.Publisher,
		ChildKey: key, EventTime: e.Time.UTC().Format(time.RFC3339Nano), PolicyRevision: rev, Decisions: []api.Decision{}, Outcome: "copies"}
	if cause, ok := e.Attrs["causedby"].(string); ok {
		rec.CausedBy = cause
	}
	copies := rec // the record of the copies, written once they resolved
	cr := &copies
	for _, d := range decisions {
		if !d.Allow {
			b.Metrics.denied.WithLabelValues(d.Basis).Inc()
			continue
		}
		m, err := DeliveryMsg(e, d)
		if err != nil {
			return err
		}
		removed := d.Remove
		if removed == nil {
			removed = []string{}
		}
		cr.Copies = append(cr.Copies, api.Copy{Participant: d.Participant, Basis: d.Basis, Removed: removed, Review: d.Review})
		p.deliveries = append(p.deliveries, m)
		p.copyOf = append(p.copyOf, copyRef{rec: cr, i: len(cr.Copies) - 1})
	}
	if len(cr.Copies) > 0 {
		p.copies = append(p.copies, cr)
	}
	rec.DecidedAt, rec.Decisions, rec.Outcome = time.Now().UTC().Format(time.RFC3339Nano), decisions, "decided"
	rec.Superseded, rec.Note = len(applied.Superseded) > 0, applied.Note()
	if perr != nil {
		rec.Outcome, rec.Error = "policy-error", perr.Error()
	}
	for _, d := range decisions {
		rec.Review = rec.Review || d.Review
	}
	f, err := b.Audit.Decision(rec)
	if err != nil {
		return err
	}
	p.futures = append(p.futures, f)
	return nil
}
