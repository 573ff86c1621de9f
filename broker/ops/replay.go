package ops

// Replay (docs/operations.md, "Replay"): re-send recorded events to one
// participant whose copies were lost to it (refused by its delivery limit,
// expired, or gone from its own system). A replay re-sends only what the
// decision recorded when the event was decided allowed that participant,
// narrowed by the policy now serving with the child's state now: the copy
// goes only when both allow, on the recorded basis, without every field
// either removes. So a replay never discloses what was refused then (a rule
// added since does not reach back), nor what is not lawful now (a child
// shielded since, a consent withdrawn since, rules 8 and 10). An event with
// no recorded decision for the participant (it was not a participant then)
// is not re-sent: that is a backfill (backfill.go), a separate operation
// that shows its impact first.
//
// A replay writes one audit action (who, the selection, the counts) and,
// for each child it sends copies of, a record of those copies before they
// go out (fail closed) and one of what became of them after; children it
// sends nothing about get no record.
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

// Replay re-sends the selected events to one participant within what was
// decided for it at the time (see the top of this file). operator is who
// asked; progress is called now and then.
func (b *Ops) Replay(ctx context.Context, operator string, sel api.ReplaySelection, progress func(any)) (*api.ReplayResult, error) {
	return b.resend(ctx, operator, opReplay, sel, nil, progress)
}

// The two operations that re-send recorded events.
const (
	opReplay   = "replay"
	opBackfill = "backfill"
)

// resend runs a replay or a backfill (confirming the dry run dry, when
// given) and writes its one audit action.
func (b *Ops) resend(ctx context.Context, operator, op string, sel api.ReplaySelection, dry *api.AuditAction, progress func(any)) (*api.ReplayResult, error) {
	s, err := b.CheckSelection(sel)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(any) {}
	}
	res := &api.ReplayResult{ID: randomHex(8), Operation: op, DryRun: sel.DryRun, Operator: operator, Selection: sel,
		PolicyRevision: b.decider.Policy().Revision, DeniedBy: map[string]int{}, Items: []api.ReplayItem{}}
	if dry != nil {
		res.Confirms = dry.ID
	}
	sel.Child = "" // the audit keeps no UIN
	sent, runErr := b.resendRun(ctx, s, op, res, dry, operator, progress)
	counts := map[string]int{"children": res.Children, "selected": res.Selected, "already_delivered": res.AlreadyDelivered,
		"delivered": res.Delivered, "refused": res.Refused, "denied": res.Denied, "children_sent": sent}
	if op == opBackfill {
		counts["newly_disclosed"] = res.NewlyDisclosed
	}
	kind := op
	if sel.DryRun {
		kind += "-dry-run"
	}
	action := &api.AuditAction{Kind: kind, ID: res.ID, By: operator, Participant: sel.Participant, Selection: &sel, Counts: counts,
		Impact: res.Impact, Confirms: res.Confirms}
	if s.key != "" {
		action.Reason = "one child: child key " + s.key
	}
	if runErr != nil {
		action.Error = runErr.Error()
	}
	rec := api.AuditRecord{ChildKey: "_ops", Type: op, Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: res.PolicyRevision, Outcome: kind, Decisions: []api.Decision{}, Action: action}
	if err := b.audit.Action(ctx, rec, op, res.ID); err != nil && runErr == nil {
		runErr = fmt.Errorf("auditing the %s: %w", op, err)
	}
	b.log.Info(op, zap.String("id", res.ID), zap.Bool("dry_run", sel.DryRun), zap.String("operator", operator), zap.String("participant", sel.Participant),
		zap.Int("selected", res.Selected), zap.Int("delivered", res.Delivered), zap.Int("refused", res.Refused),
		zap.Int("already", res.AlreadyDelivered), zap.Int("denied", res.Denied), zap.Int("newly_disclosed", res.NewlyDisclosed))
	return res, runErr
}

// replayCandidate is one event a replay decides, with the child's state
// the pipeline decided it with and the decision it recorded for the
// participant (nil when it recorded none).
type replayCandidate struct {
	seq      uint64
	stored   time.Time
	ev       *event.Event
	state    child.State
	key      string
	recorded *api.Decision
}

// replayAuditBatch is how many children's audit records a replay holds at
// once when it reads them in one pass over the audit (a variable for the
// tests).
var replayAuditBatch = 10_000

// replayBySubject is the most children whose audit records are read by
// their subjects, one consumer each.
var replayBySubject = 64

// auditsOf reads the audit records of the children keys names, oldest
// first, by child. A few children are read by their subjects; more, in one
// pass over the audit stream: a consumer per child costs the server a
// round trip each (issue 16: 5,000 children's subjects took most of a
// replay's 78 s over 100,000 events; one pass reads the same records in a
// few seconds).
func (b *Ops) auditsOf(ctx context.Context, keys []string) (map[string][]api.AuditRecord, error) {
	out := make(map[string][]api.AuditRecord, len(keys))
	if len(keys) <= replayBySubject {
		for _, key := range keys {
			recs, err := b.auditLog.Child(ctx, key)
			if err != nil {
				return nil, err
			}
			out[key] = recs
		}
		return out, nil
	}
	bySubject := make(map[string]string, len(keys))
	for _, key := range keys {
		bySubject[wire.AuditSubject(key)] = key
	}
	err := store.Scan(ctx, b.js, wire.StreamAudit, store.ScanOpts{}, func(m store.Msg) error {
		key, ok := bySubject[m.Subject]
		if !ok {
			return nil
		}
		var rec api.AuditRecord
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			return nil // not a record this version reads; verification reports it
		}
		out[key] = append(out[key], rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the audit: %w", err)
	}
	return out, nil
}

// planned is a copy a replay is to send, and its place in the answer's
// items (-1 when the items were truncated).
type planned struct {
	c    replayCandidate
	d    api.Decision
	item int
}

func (b *Ops) resendRun(ctx context.Context, s *replaySel, op string, res *api.ReplayResult, dry *api.AuditAction, operator string,
	progress func(any)) (childrenSent int, err error) {
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
			return 0, err
		}
	}
	// 2. Each child's history from its audit: the state as of each selected
	// event, and the decision recorded for the participant.
	p := s.Participant
	var cands []replayCandidate
	earliest := time.Time{}
	var audits map[string][]api.AuditRecord
	for i, key := range keys {
		if i%replayAuditBatch == 0 {
			if audits, err = b.auditsOf(ctx, keys[i:min(len(keys), i+replayAuditBatch)]); err != nil {
				return 0, err
			}
		}
		recs := audits[key]
		hist, err := b.historyFrom(ctx, recs)
		if err != nil {
			return 0, err
		}
		recorded := recordedDecisions(recs, p)
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
					cands = append(cands, replayCandidate{seq: h.Seq, stored: h.Stored, ev: h.Event, state: before, key: key,
						recorded: recorded[wire.EventMsgID(h.Event.Source, h.Event.ID)]})
				}
				for _, g := range step.Generated {
					if s.wants(g.Name) {
						cands = append(cands, replayCandidate{seq: h.Seq, stored: h.Stored, ev: g, state: after, key: key,
							recorded: recorded[wire.EventMsgID(g.Source, g.ID)]})
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
		return 0, b.checkImpact(res, dry, nil)
	}
	// 3. What the participant already holds, beyond the duplicate window,
	// and which of its copies the delivery limit refused (dead letters).
	held := map[string]uint64{} // copy message id → sequence in ECM_DELIVERY
	err = store.Scan(ctx, b.js, wire.StreamDelivery, store.ScanOpts{Filter: []string{wire.DeliverySubject(p)}, HeadersOnly: true, StartTime: earliest.Add(-time.Minute),
		Progress: func(done, total uint64) {
			progress(map[string]any{"phase": "held", "done": done, "total": total})
		}}, func(m store.Msg) error {
		held[m.Header.Get(jetstream.MsgIDHeader)] = m.Seq
		return nil
	})
	if err != nil {
		return 0, err
	}
	refused, err := b.refusedCopies(ctx, p)
	if err != nil {
		return 0, err
	}
	// 4. Decide: within the recorded decision (replay), or again under the
	// policy now serving (backfill).
	current := map[string]child.State{}
	var plan []planned
	var heal []string // held copies whose refused dead letter is not marked resolved
	for _, c := range cands {
		id := wire.DeliveryMsgID(c.ev.Source, c.ev.ID, p)
		item := api.ReplayItem{Seq: c.seq, EventID: c.ev.ID, Type: c.ev.Type, Recorded: recordedWords(c.recorded)}
		if seq, ok := held[id]; ok {
			item.Outcome, item.DeliverySeq = "already-delivered", seq
			res.AlreadyDelivered++
			addItem(res, item)
			if _, ok := refused[id]; ok {
				heal = append(heal, id)
			}
			continue
		}
		now, ok := current[c.key]
		if !ok {
			st, _, err := b.children.Get(ctx, c.key)
			if err != nil {
				return 0, err
			}
			current[c.key], now = st, st
		}
		later := b.decider.DecideFor(ctx, policy.Request{Event: c.ev, Index: now.Index, Consent: now.Consent}, p)
		var d api.Decision
		if op == opBackfill {
			then := b.decider.DecideFor(ctx, policy.Request{Event: c.ev, Index: c.state.Index, Consent: c.state.Consent}, p)
			d = combine(then, later)
			if d.Allow {
				item.NewFields = newlyDisclosed(c.recorded, d)
				item.NewlyDisclosed = c.recorded == nil || !c.recorded.Allow || len(item.NewFields) > 0
			}
		} else {
			d = withinRecorded(c.recorded, later, p)
		}
		item.Basis, item.Reason, item.Removed = d.Basis, d.Reason, len(d.Remove)
		if !d.Allow {
			item.Outcome = "denied"
			res.Denied++
			res.DeniedBy[d.Basis]++
			addItem(res, item)
			continue
		}
		item.Outcome = "would-deliver"
		if item.NewlyDisclosed {
			res.NewlyDisclosed++
		}
		plan = append(plan, planned{c: c, d: d, item: addItem(res, item)})
	}
	if err := b.checkImpact(res, dry, plan); err != nil {
		return 0, err
	}
	if s.DryRun {
		res.Delivered = len(plan)
		return 0, nil
	}
	// 5. Send, a few children at a time: each child's record of the copies
	// first (fail closed), then the copies, then the record of what became
	// of them; then the refused copies' dead letters marked resolved.
	x := &resendExec{Ops: b, op: op, res: res, operator: operator, participant: p, refused: refused}
	for _, id := range heal {
		x.resolve = append(x.resolve, resolveRef{msgID: id, deliverySeq: held[id]})
	}
	var batch []planned
	for i := range plan {
		batch = append(batch, plan[i])
		last := i == len(plan)-1
		if !last && (len(batch) < 256 || plan[i+1].c.key == plan[i].c.key) {
			continue
		}
		n, err := x.send(ctx, batch)
		childrenSent += n
		if err != nil {
			return childrenSent, err
		}
		batch = batch[:0]
		progress(map[string]any{"phase": op, "done": i + 1, "total": len(plan)})
	}
	return childrenSent, x.resolveRefused(ctx)
}

// recordedDecisions are the decisions the pipeline recorded for
// participant, by event (its message id).
func recordedDecisions(recs []api.AuditRecord, participant string) map[string]*api.Decision {
	out := map[string]*api.Decision{}
	for _, r := range recs {
		if r.Action != nil || (r.Outcome != "decided" && r.Outcome != "policy-error") {
			continue
		}
		for i := range r.Decisions {
			if r.Decisions[i].Participant == participant {
				out[wire.EventMsgID(r.Source, r.EventID)] = &r.Decisions[i]
			}
		}
	}
	return out
}

func recordedWords(d *api.Decision) string {
	switch {
	case d == nil:
		return "none"
	case d.Allow:
		return "allowed (" + d.Basis + ")"
	default:
		return "denied (" + d.Basis + ")"
	}
}

// addItem adds an item to the answer and returns its index (-1 once the
// items are truncated).
func addItem(r *api.ReplayResult, it api.ReplayItem) int {
	if len(r.Items) >= replayItemsMax {
		r.ItemsTruncated = true
		return -1
	}
	r.Items = append(r.Items, it)
	return len(r.Items) - 1
}

// noRecordedDecision is a replay's answer for an event the pipeline decided
// without the participant.
const noRecordedDecision = "no-recorded-decision"

// withinRecorded is a replay's decision: what the decision recorded when
// the event was decided allowed (recorded), narrowed by the policy now
// serving with the child's state now (now). Allowed when both allow, on the
// recorded basis, without every field either removes; otherwise the denial.
func withinRecorded(recorded *api.Decision, now api.Decision, participant string) api.Decision {
	if recorded == nil {
		return api.Decision{Participant: participant, Basis: noRecordedDecision, Remove: []string{},
			Reason: "no decision for this participant was recorded when the event was decided (it was not a participant then): " +
				"a replay re-sends only what was decided; a backfill, after its dry run, can send it under today's policy"}
	}
	if !recorded.Allow {
		d := *recorded
		d.Reason = "when it was decided: " + d.Reason
		return d
	}
	if !now.Allow {
		now.Reason = "with today's policy and the child's state now: " + now.Reason
		return now
	}
	d := *recorded
	d.Remove = union(recorded.Remove, now.Remove)
	d.Review = recorded.Review || now.Review
	return d
}

// combine is a backfill's decision from today's policy's decision as of the
// event (then) and with the child's state now (now): allowed when both
// allow, on the basis it had; otherwise the denial; the fields either
// removes removed.
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
	d.Remove = union(then.Remove, now.Remove)
	d.Review = then.Review || now.Review
	return d
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, r := range append(append([]string{}, a...), b...) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// newlyDisclosed are the fields d sends that the recorded decision removed
// (all of them, when it did not allow the event: nil is returned then, and
// the whole event is new).
func newlyDisclosed(recorded *api.Decision, d api.Decision) []string {
	if recorded == nil || !recorded.Allow {
		return nil
	}
	keep := map[string]bool{}
	for _, r := range d.Remove {
		keep[r] = true
	}
	var out []string
	for _, r := range recorded.Remove {
		if !keep[r] {
			out = append(out, r)
		}
	}
	return out
}

// replayDeliver is the message of a re-sent copy: the same message id as
// the pipeline's, so JetStream drops it if the pipeline's is in the window.
func replayDeliver(e *event.Event, d api.Decision, replayID string) (*nats.Msg, error) {
	m, err := pipeline.DeliveryMsg(e, d)
	if err != nil {
		return nil, err
	}
	m.Header.Set(wire.HeaderReplay, replayID)
	return m, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
