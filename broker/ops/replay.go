package ops

// Replay (docs/operations.md, "Replay"): re-deliver recorded events to one
// participant, after an outage or when a participant joins. Each event is
// decided again by the policy now serving, twice: with the child's state as
// it was when the event was first decided, and with the child's state now.
// The copy goes only when both allow, without every field either removes, so
// a replay never discloses what was not lawful then, nor what is not lawful
// now (a child shielded since, a consent withdrawn since, rules 8 and 10).
//
// A child's history comes from its audit subject: every decided event has a
// record there naming its ingest sequence, and each event is then read by
// sequence, so one child's events are found without reading the ingest
// stream (the child index, benchmarked in replay_test.go).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/pipeline"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ---- answering long operations over HTTP ----

// ---- a child's history: the child index ----

// recordedEvent is one event of a child as recorded and decided.
type recordedEvent struct {
	Seq    uint64
	Stored time.Time // when the broker recorded it
	Event  *event.Event
	Record api.AuditRecord // the pipeline's decision
	// Generated holds the pipeline's records of the events this one caused.
	Generated []api.AuditRecord
}

// childHistory returns the events of a child that the pipeline decided,
// oldest first, each read by its ingest sequence. The sequences come from
// the child's record in ECM_CHILDREN when it lists them ("events", one
// lookup: the child index), else from the child's audit subject (every
// decided event has a record there naming its ingest sequence; slower on a
// large audit stream, whose blocks the subject is spread over). Events
// erased or expired since are left out.
func (b *Ops) childHistory(ctx context.Context, key string) ([]recordedEvent, error) {
	if seqs, ok, err := b.indexedEvents(ctx, key); err != nil {
		return nil, err
	} else if ok {
		return b.historyBySeq(ctx, seqs)
	}
	recs, err := b.auditLog.Child(ctx, key)
	if err != nil {
		return nil, err
	}
	return b.historyFrom(ctx, recs)
}

// indexedEvents reads the ingest sequences listed in a child's record
// ("events": every event applied, see ChildState). ok is false when the
// record keeps no list (written before the list was kept) or is absent.
func (b *Ops) indexedEvents(ctx context.Context, key string) ([]uint64, bool, error) {
	e, err := b.children.KV().Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the child index: %w", err)
	}
	var seqs []uint64
	found := false
	_ = event.ScanFields(e.Value(), event.Fields{"events": true}, func(_ string, v []byte) {
		found = json.Unmarshal(v, &seqs) == nil
	})
	return seqs, found && len(seqs) > 0, nil
}

// historyBySeq reads the events at the given ingest sequences with the
// pipeline's audit record of each (for the time it used, and to keep only
// decided events): the audit records are found by the event's id, the
// audit subject's newest records first.
func (b *Ops) historyBySeq(ctx context.Context, seqs []uint64) ([]recordedEvent, error) {
	msgs, err := store.BySeq(ctx, b.js, wire.StreamIngest, seqs)
	if err != nil {
		return nil, err
	}
	out := make([]recordedEvent, 0, len(seqs))
	for i, m := range msgs {
		if m == nil {
			continue
		}
		ev, err := event.Stored(m.Subject, m.Header, m.Data, m.Time.UTC().Format(time.RFC3339Nano))
		if err != nil {
			continue
		}
		out = append(out, recordedEvent{Seq: seqs[i], Stored: m.Time, Event: ev,
			Record: api.AuditRecord{IngestSeq: seqs[i], EventID: ev.ID, Source: ev.Source, Type: ev.Type, EventTime: ev.Time.UTC().Format(time.RFC3339Nano)}})
	}
	return out, nil
}

func (b *Ops) historyFrom(ctx context.Context, recs []api.AuditRecord) ([]recordedEvent, error) {
	bySeq := map[uint64]*recordedEvent{}
	var seqs []uint64
	for _, r := range recs {
		if r.IngestSeq == 0 || r.Action != nil || (r.Outcome != "decided" && r.Outcome != "policy-error") {
			continue
		}
		e := bySeq[r.IngestSeq]
		if e == nil {
			e = &recordedEvent{Seq: r.IngestSeq}
			bySeq[r.IngestSeq] = e
			seqs = append(seqs, r.IngestSeq)
		}
		if r.CausedBy != "" {
			e.Generated = append(e.Generated, r)
		} else if e.Record.EventID == "" {
			e.Record = r
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	msgs, err := store.BySeq(ctx, b.js, wire.StreamIngest, seqs)
	if err != nil {
		return nil, err
	}
	out := make([]recordedEvent, 0, len(seqs))
	for i, seq := range seqs {
		if msgs[i] == nil {
			continue // erased, or expired under the retention rules
		}
		e := bySeq[seq]
		if e.Record.EventID == "" {
			continue // only generated records: the event itself was not decided
		}
		ev, err := event.Stored(msgs[i].Subject, msgs[i].Header, msgs[i].Data, e.Record.EventTime)
		if err != nil {
			continue
		}
		e.Event, e.Stored = ev, msgs[i].Time
		out = append(out, *e)
	}
	return out, nil
}

// ---- replay ----

const replayItemsMax = 10000

type replaySel struct {
	api.ReplaySelection
	from, to time.Time
	types    map[string]bool
	key      string
}

func (s *replaySel) wants(name string) bool { return len(s.types) == 0 || s.types[name] }

func (s *replaySel) inRange(seq uint64, stored time.Time) bool {
	return (s.FromSeq == 0 || seq >= s.FromSeq) && (s.ToSeq == 0 || seq <= s.ToSeq) &&
		(s.from.IsZero() || !stored.Before(s.from)) && (s.to.IsZero() || stored.Before(s.to))
}

func (b *Ops) CheckSelection(sel api.ReplaySelection) (*replaySel, error) {
	s := &replaySel{ReplaySelection: sel, types: map[string]bool{}}
	if _, ok := b.registry.Participant(sel.Participant); !ok {
		return nil, fmt.Errorf("participant: %q is not a registered participant", sel.Participant)
	}
	var err error
	if sel.From != "" {
		if s.from, err = time.Parse(time.RFC3339, sel.From); err != nil {
			return nil, fmt.Errorf("from: must be an RFC 3339 time")
		}
	}
	if sel.To != "" {
		if s.to, err = time.Parse(time.RFC3339, sel.To); err != nil {
			return nil, fmt.Errorf("to: must be an RFC 3339 time")
		}
	}
	if sel.ToSeq > 0 && sel.FromSeq > sel.ToSeq {
		return nil, fmt.Errorf("from_seq: is after to_seq")
	}
	if sel.Child != "" {
		if err := uin.Check(sel.Child); err != nil {
			return nil, fmt.Errorf("child: %v", err)
		}
		s.key = b.children.Key(sel.Child)
	}
	for _, t := range sel.Types {
		name := strings.TrimSuffix(strings.TrimPrefix(t, schemas.TypePrefix), schemas.TypeSuffix)
		if _, ok := schemas.Lookup(schemas.TypeOf(name)); !ok {
			return nil, fmt.Errorf("types: %q is not in the event catalogue", t)
		}
		s.types[name] = true
	}
	return s, nil
}

// Replay re-delivers the selected events to one participant (see the top of
// this file). operator is who asked; progress is called now and then.
func (b *Ops) Replay(ctx context.Context, operator string, sel api.ReplaySelection, progress func(any)) (*api.ReplayResult, error) {
	s, err := b.CheckSelection(sel)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(any) {}
	}
	res := &api.ReplayResult{ID: randomHex(8), Operator: operator, Selection: sel, PolicyRevision: b.decider.Policy().Revision,
		DeniedBy: map[string]int{}, Items: []api.ReplayItem{}}
	sel.Child = "" // the audit keeps no UIN
	runErr := b.replay(ctx, s, res, progress)
	counts := map[string]int{"children": res.Children, "selected": res.Selected, "already_delivered": res.AlreadyDelivered,
		"delivered": res.Delivered, "denied": res.Denied}
	action := &api.AuditAction{Kind: "replay", ID: res.ID, By: operator, Participant: sel.Participant, Selection: &sel, Counts: counts}
	if s.key != "" {
		action.Reason = "one child: child key " + s.key
	}
	if runErr != nil {
		action.Error = runErr.Error()
	}
	if sel.DryRun {
		action.Kind = "replay-dry-run"
	}
	rec := api.AuditRecord{ChildKey: "_ops", Type: "replay", Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: res.PolicyRevision, Outcome: action.Kind, Decisions: []api.Decision{}, Action: action}
	if err := b.audit.Action(ctx, rec, "replay", res.ID); err != nil && runErr == nil {
		runErr = fmt.Errorf("auditing the replay: %w", err)
	}
	b.log.Info("replay", zap.String("id", res.ID), zap.String("operator", operator), zap.String("participant", sel.Participant),
		zap.Int("selected", res.Selected), zap.Int("delivered", res.Delivered), zap.Int("already", res.AlreadyDelivered), zap.Int("denied", res.Denied))
	return res, runErr
}

func waitFutures(ctx context.Context, fs []jetstream.PubAckFuture) error {
	for _, f := range fs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publishing to %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// replayCandidate is one event a replay decides, with the child's state
// the pipeline decided it with.
type replayCandidate struct {
	seq    uint64
	stored time.Time
	ev     *event.Event
	state  child.State
	key    string
}

func (b *Ops) replay(ctx context.Context, s *replaySel, res *api.ReplayResult, progress func(any)) error {
	// 1. Which children, and which of their events.
	var keys []string
	picked := map[string]map[uint64]bool{} // child key → selected sequences (nil: by range)
	if s.key != "" {
		keys = []string{s.key}
		picked[s.key] = nil
	} else {
		filter := []string{wire.IngestFilter}
		err := store.Scan(ctx, b.js, wire.StreamIngest, store.ScanOpts{Filter: filter, StartSeq: s.FromSeq, StartTime: s.from, LastSeq: s.ToSeq,
			Progress: func(done, total uint64) {
				progress(map[string]any{"phase": "select", "done": done, "total": total})
			}}, func(m store.Msg) error {
			if !s.inRange(m.Seq, m.Time) {
				return nil
			}
			raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
			if err != nil {
				return nil
			}
			child, _ := raw.String("subject")
			if !uin.Valid(child) {
				return nil
			}
			key := b.children.Key(child)
			if picked[key] == nil {
				picked[key] = map[uint64]bool{}
				keys = append(keys, key)
			}
			picked[key][m.Seq] = true
			return nil
		})
		if err != nil {
			return err
		}
	}
	// 2. Each child's history: the state as of each selected event.
	var cands []replayCandidate
	earliest := time.Time{}
	for i, key := range keys {
		hist, err := b.childHistory(ctx, key)
		if err != nil {
			return err
		}
		var state child.State
		chosen := false
		for _, h := range hist {
			want := s.inRange(h.Seq, h.Stored)
			if seqs := picked[key]; seqs != nil {
				want = seqs[h.Seq]
			}
			before := state
			step := before.Next(h.Event, h.Seq, b.registry.Serves)
			after := step.After
			if want {
				n := len(cands)
				if s.wants(h.Event.Name) {
					cands = append(cands, replayCandidate{seq: h.Seq, stored: h.Stored, ev: h.Event, state: before, key: key})
				}
				for _, g := range step.Generated {
					if s.wants(g.Name) {
						cands = append(cands, replayCandidate{seq: h.Seq, stored: h.Stored, ev: g, state: after, key: key})
					}
				}
				if len(cands) > n {
					chosen = true
					if earliest.IsZero() || h.Stored.Before(earliest) {
						earliest = h.Stored
					}
				}
			}
			state = after
		}
		if chosen {
			res.Children++
		}
		progress(map[string]any{"phase": "history", "done": i + 1, "total": len(keys)})
	}
	res.Selected = len(cands)
	if len(cands) == 0 {
		return nil
	}
	// 3. What the participant already holds, beyond the duplicate window.
	p := s.Participant
	held := map[string]bool{}
	err := store.Scan(ctx, b.js, wire.StreamDelivery, store.ScanOpts{Filter: []string{wire.DeliverySubject(p)}, HeadersOnly: true, StartTime: earliest.Add(-time.Minute),
		Progress: func(done, total uint64) {
			progress(map[string]any{"phase": "held", "done": done, "total": total})
		}}, func(m store.Msg) error {
		held[m.Header.Get(jetstream.MsgIDHeader)] = true
		return nil
	})
	if err != nil {
		return err
	}
	// 4. Decide again; audit; deliver. Audit first, so nothing is delivered unaudited.
	current := map[string]child.State{}
	type pending struct {
		c replayCandidate
		d api.Decision
	}
	var batch []pending
	flush := func() error {
		if len(batch) == 0 || s.DryRun {
			batch = batch[:0]
			return nil
		}
		var fs []jetstream.PubAckFuture
		for _, x := range batch {
			f, err := b.replayDeliver(x.c.ev, x.d, res.ID)
			if err != nil {
				return err
			}
			fs = append(fs, f)
		}
		batch = batch[:0]
		return waitFutures(ctx, fs)
	}
	var audits []jetstream.PubAckFuture
	for i, c := range cands {
		id := cenats.MsgID(c.ev.Source, c.ev.ID) + "@" + p
		item := api.ReplayItem{Seq: c.seq, EventID: c.ev.ID, Type: c.ev.Type}
		if held[id] {
			item.Outcome = "already-delivered"
			res.AlreadyDelivered++
			addItem(res, item)
			continue
		}
		now, ok := current[c.key]
		if !ok {
			st, _, err := b.children.Get(ctx, c.key)
			if err != nil {
				return err
			}
			current[c.key], now = st, st
		}
		then := b.decider.DecideFor(ctx, policy.Request{Event: c.ev, Index: c.state.Index, Consent: c.state.Consent}, p)
		later := b.decider.DecideFor(ctx, policy.Request{Event: c.ev, Index: now.Index, Consent: now.Consent}, p)
		d := combine(then, later)
		item.Basis, item.Reason, item.Removed = d.Basis, d.Reason, len(d.Remove)
		if d.Allow {
			item.Outcome = "delivered"
			if s.DryRun {
				item.Outcome = "would-deliver"
			}
			res.Delivered++
		} else {
			item.Outcome = "denied"
			res.Denied++
			res.DeniedBy[d.Basis]++
		}
		addItem(res, item)
		if s.DryRun {
			continue
		}
		rec := api.AuditRecord{IngestSeq: c.seq, EventID: c.ev.ID, Source: c.ev.Source, Type: c.ev.Type, Publisher: c.ev.Publisher,
			ChildKey: c.key, EventTime: c.ev.Time.UTC().Format(time.RFC3339Nano), DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
			PolicyRevision: res.PolicyRevision, Outcome: "replayed", Decisions: []api.Decision{d}, Review: d.Review,
			Action: &api.AuditAction{Kind: "replay", ID: res.ID, By: res.Operator, Participant: p, AtEvent: &then, Now: &later}}
		if cause, ok := c.ev.Attrs["causedby"].(string); ok {
			rec.CausedBy = cause
		}
		f, err := b.audit.ActionAsync(rec, "replay", res.ID+":"+wire.EventMsgID(c.ev.Source, c.ev.ID))
		if err != nil {
			return err
		}
		audits = append(audits, f)
		if d.Allow {
			batch = append(batch, pending{c, d})
		}
		if len(audits) >= 256 || i == len(cands)-1 {
			if err := waitFutures(ctx, audits); err != nil {
				return fmt.Errorf("audit not written, nothing more delivered: %w", err)
			}
			audits = audits[:0]
			if err := flush(); err != nil {
				return err
			}
			progress(map[string]any{"phase": "replay", "done": i + 1, "total": len(cands)})
		}
	}
	if err := waitFutures(ctx, audits); err != nil {
		return fmt.Errorf("audit not written, nothing more delivered: %w", err)
	}
	return flush()
}

func addItem(r *api.ReplayResult, it api.ReplayItem) {
	if len(r.Items) >= replayItemsMax {
		r.ItemsTruncated = true
		return
	}
	r.Items = append(r.Items, it)
}

// combine is a replay's decision from the decision as of the event (then)
// and with the child's state now (now): allowed when both allow, on the
// basis it had; otherwise the denial; the fields either removes removed.
func combine(then, now api.Decision) api.Decision {
	if !then.Allow {
		then.Reason = "as of the event: " + then.Reason
		return then
	}
	if !now.Allow {
		now.Reason = "with the child's state now: " + now.Reason
		return now
	}
	d := then
	seen := map[string]bool{}
	d.Remove = []string{}
	for _, r := range append(append([]string{}, then.Remove...), now.Remove...) {
		if !seen[r] {
			seen[r] = true
			d.Remove = append(d.Remove, r)
		}
	}
	d.Review = then.Review || now.Review
	return d
}

// replayDeliver publishes a replayed copy under the same message id as the
// pipeline's, so JetStream drops it if the pipeline's is in the window.
func (b *Ops) replayDeliver(e *event.Event, d api.Decision, replayID string) (jetstream.PubAckFuture, error) {
	m, err := pipeline.DeliveryMsg(e, d)
	if err != nil {
		return nil, err
	}
	m.Header.Set(wire.HeaderReplay, replayID)
	return b.js.PublishMsgAsync(m)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
