package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
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
func (b *Broker) consume(ctx context.Context, name string) error {
	cons, err := b.js.Consumer(ctx, StreamIngest, name)
	if err != nil {
		return fmt.Errorf("opening consumer %s: %w", name, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2*fetchBatch), jetstream.PullPriorityGroup(priorityGroup))
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
				b.log.Warn("reading from ingest", zap.Error(err))
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
			b.log.Error("batch not completed; its events will be redelivered", zap.Int("events", len(msgs)), zap.Error(err))
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
}

type cachedState struct {
	state ChildState
	rev   uint64
	dirty bool
}

func (b *Broker) processBatch(ctx context.Context, msgs []jetstream.Msg) error {
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
	deliveries := make([]jetstream.PubAckFuture, 0, len(p.deliveries))
	for _, m := range p.deliveries {
		f, err := b.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("publishing to %s: %w", m.Subject, err)
		}
		deliveries = append(deliveries, f)
	}
	if err := b.await(ctx, deliveries); err != nil {
		return err
	}
	b.auditOK.Store(true)
	if n := b.processed.Add(int64(len(msgs))); failpointAfter > 0 && n >= int64(failpointAfter) {
		// Test only (test/e2e): die as kill -9 would, with deliveries and
		// audit stored but neither child state written nor events acked.
		os.Exit(99)
	}
	var writes []func(context.Context) error
	for _, key := range p.order {
		cs := p.states[key]
		if !cs.dirty {
			continue
		}
		wait, err := b.children.PutAsync(b.js, key, cs.state, cs.rev)
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
			b.log.Warn("ack failed; the event will be redelivered and recognised", zap.Error(err))
		}
	}
	return nil
}

// await waits for publishes; a copy refused by its participant's delivery
// limit is held in the dead letters rather than failing the batch.
func (b *Broker) await(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if held, herr := b.holdRefusedCopy(ctx, f.Msg(), err); held {
				if herr != nil {
					return herr
				}
				continue // over its participant's delivery limit: kept in the dead letters (limits.go)
			}
			if strings.HasPrefix(f.Msg().Subject, "ecm.audit.") {
				b.auditFailing(err)
			}
			return fmt.Errorf("publishing to %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *Broker) state(ctx context.Context, p *pass, key string) (*cachedState, error) {
	if cs, ok := p.states[key]; ok {
		return cs, nil
	}
	s, rev, err := b.children.Get(ctx, key)
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
func (b *Broker) process(ctx context.Context, p *pass, m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("reading message metadata: %w", err)
	}
	seq := meta.Sequence.Stream
	publisher, partition := parseIngestSubject(m.Subject())
	b.metrics.eventsIn.WithLabelValues(publisher).Inc()
	msg := &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
	raw, err := cenats.Decode(msg)
	var ev *Event
	var probs []Problem
	if err != nil {
		probs = []Problem{{"event", err.Error()}}
	} else if len(m.Data()) > maxEventBytes {
		probs = []Problem{{"event", fmt.Sprintf("is %d bytes, at most %d", len(m.Data()), maxEventBytes)}}
	} else if _, known := b.registry.Participant(publisher); !known {
		probs = []Problem{{"publisher", fmt.Sprintf("subject %s is not a registered participant's ingest subject", m.Subject())}}
	} else if ev, probs = safeValidate(raw, publisher); ev != nil && partition != uin.Partition(ev.Subject) {
		ev, probs = nil, []Problem{{"partition", fmt.Sprintf("subject %s must end with the child's partition %s (ecm.ingest.<area>.<agency>.<partition>, see uin.Partition)",
			m.Subject(), uin.Partition(ev.Subject))}}
	} else if ev != nil && msg.Header.Get(jetstream.MsgIDHeader) != cenats.MsgID(ev.Source, ev.ID) {
		// Without it a retried publish is stored twice, and an id reused for
		// other content would be decided but its copies dropped as duplicates.
		id := cenats.MsgID(ev.Source, ev.ID)
		ev, probs = nil, []Problem{{"Nats-Msg-Id", fmt.Sprintf("header must be %q, the event's source#id, so that JetStream stores it once", id)}}
	}
	if len(probs) > 0 {
		f, err := b.deadLetterAsync(publisher, msg, probs, fmt.Sprintf("ingest-%d", seq))
		if err != nil {
			return err
		}
		p.futures = append(p.futures, f)
		return nil
	}
	key := b.children.Key(ev.Subject)
	cs, err := b.state(ctx, p, key)
	if err != nil {
		return err
	}
	if cs.state.LastSeq >= seq {
		return nil // applied before a crash or a lost ack: everything it caused is stored
	}
	before := cs.state
	after, applied := before.Apply(ev, seq)
	if err := b.decideAndDeliver(ctx, p, ev, before.Index, before.Consent, seq, key, applied); err != nil {
		return err
	}
	cs.state, cs.dirty = after, true
	for _, g := range derive(ev, before.Index, after.Index, applied, b.registry.serves) {
		if err := b.decideAndDeliver(ctx, p, g, after.Index, after.Consent, seq, key, Applied{}); err != nil {
			return err
		}
	}
	return nil
}

// decideAndDeliver evaluates the policy once for e and publishes the copies
// it allows and the audit record, which says what of e the child's state did
// not take (applied, order.go).
func (b *Broker) decideAndDeliver(ctx context.Context, p *pass, e *Event, x *IndexRecord, c *Consent, seq uint64, key string, applied Applied) error {
	candidates := b.registry.candidates(e, x)
	start := time.Now()
	decisions, rev, perr := b.decider.Decide(ctx, policyInput(e, x, c, candidates), candidates)
	b.metrics.decisionSeconds.Observe(time.Since(start).Seconds())
	if perr != nil {
		b.metrics.policyErrors.Inc()
		b.log.Error("policy error: event denied to every candidate", zap.String("event_id", e.ID), zap.String("type", e.Type), zap.Error(perr))
	}
	for _, d := range decisions {
		if !d.Allow {
			b.metrics.denied.WithLabelValues(d.Basis).Inc()
			continue
		}
		m, err := deliveryMsg(e, d)
		if err != nil {
			return err
		}
		p.deliveries = append(p.deliveries, m)
		b.metrics.delivered.WithLabelValues(d.Participant, d.Basis).Inc()
	}
	rec := AuditRecord{IngestSeq: seq, EventID: e.ID, Source: e.Source, Type: e.Type, Publisher: e.Publisher,
		ChildKey: key, EventTime: e.Time.UTC().Format(time.RFC3339Nano), DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: rev, Decisions: decisions, Outcome: "decided",
		Superseded: len(applied.Superseded) > 0, Note: applied.Note()}
	if perr != nil {
		rec.Outcome, rec.Error = "policy-error", perr.Error()
	}
	if cause, ok := e.Attrs["causedby"].(string); ok {
		rec.CausedBy = cause
	}
	for _, d := range decisions {
		rec.Review = rec.Review || d.Review
	}
	f, err := b.auditAsync(rec)
	if err != nil {
		return err
	}
	p.futures = append(p.futures, f)
	return nil
}

func parseIngestSubject(subject string) (publisher, partition string) {
	parts := strings.Split(strings.TrimPrefix(subject, "ecm.ingest."), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "unknown", ""
	}
	if len(parts) == 3 {
		partition = parts[2]
	}
	return parts[0] + "/" + parts[1], partition
}

// safeValidate is Validate that turns a panic on hostile input into a
// problem: one bad event never stops the pipeline.
func safeValidate(raw cenats.Raw, publisher string) (ev *Event, probs []Problem) {
	defer func() {
		if r := recover(); r != nil {
			ev, probs = nil, []Problem{{"event", "could not be validated: " + fmt.Sprint(r)}}
		}
	}()
	return Validate(raw, publisher, time.Now())
}

func (b *Broker) auditFailing(err error) {
	if b.auditOK.Swap(false) {
		b.log.Error("audit stream not writable: delivering nothing until it is", zap.Error(err))
	}
}

// failpointAfter lets the crash tests stop the process at a chosen point:
// ECM_FAILPOINT=after-deliveries:N exits once N events have had their
// deliveries stored, before their state is written or they are acked. It
// is zero in any normal run.
var failpointAfter = func() int {
	n, _ := strconv.Atoi(strings.TrimPrefix(os.Getenv("ECM_FAILPOINT"), "after-deliveries:"))
	return n
}()
