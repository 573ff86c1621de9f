package broker

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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// HeaderReplay marks a copy delivered by a replay, with the replay's id.
const HeaderReplay = "Ecm-Replay"

// AuditAction describes what an operator did, on the audit record of it.
type AuditAction struct {
	Kind        string           `json:"kind"` // replay, erasure, subject-access
	ID          string           `json:"id,omitempty"`
	By          string           `json:"by"` // the operator's name
	Reason      string           `json:"reason,omitempty"`
	Participant string           `json:"participant,omitempty"`
	Selection   *ReplaySelection `json:"selection,omitempty"`
	Counts      map[string]int   `json:"counts,omitempty"`
	Error       string           `json:"error,omitempty"`
	// A replayed event's two decisions: with the child's state as of the
	// event, and with its state now. The record's decision combines them.
	AtEvent *Decision `json:"at_event,omitempty"`
	Now     *Decision `json:"now,omitempty"`
}

// ---- reading streams ----

// scanOpts select what scanStream reads.
type scanOpts struct {
	filter      []string
	startSeq    uint64
	startTime   time.Time
	lastSeq     uint64 // stop after this sequence; 0: the stream's last when the scan began
	headersOnly bool
	progress    func(done, total uint64)
}

// scanStream calls fn for each message of stream that o selects, in
// sequence order, up to the stream's last message when it began. It reads
// through an ephemeral consumer, so JetStream skips to the selected subjects
// through its subject index.
func scanStream(ctx context.Context, js jetstream.JetStream, stream string, o scanOpts, fn func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", stream, err)
	}
	last := s.CachedInfo().State.LastSeq
	if o.lastSeq > 0 && o.lastSeq < last {
		last = o.lastSeq
	}
	if s.CachedInfo().State.Msgs == 0 || last == 0 || o.startSeq > last {
		return nil
	}
	cfg := jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy, FilterSubjects: o.filter, HeadersOnly: o.headersOnly,
		InactiveThreshold: time.Minute, MemoryStorage: true, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch {
	case o.startSeq > 1:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.startSeq
	case !o.startTime.IsZero():
		t := o.startTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.CreateConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", stream, err)
	}
	defer func() {
		// Not waited for: an unused consumer goes away by itself after
		// InactiveThreshold anyway.
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
			cancel()
		}()
	}()
	total := cons.CachedInfo().NumPending
	if total == 0 {
		return nil
	}
	if total <= 1024 {
		// A few messages (one child's subject): one fetch, no streaming pull.
		var done uint64
		for done < total {
			batch, err := cons.Fetch(int(total-done), jetstream.FetchMaxWait(10*time.Second))
			if err != nil {
				return fmt.Errorf("reading stream %s: %w", stream, err)
			}
			n := 0
			for m := range batch.Messages() {
				n++
				meta, err := m.Metadata()
				if err != nil {
					return err
				}
				if meta.Sequence.Stream > last {
					return nil
				}
				if err := fn(m, meta); err != nil {
					return err
				}
				done++
				if meta.NumPending == 0 || meta.Sequence.Stream >= last {
					return nil
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
				return fmt.Errorf("reading stream %s: %w", stream, err)
			}
			if n == 0 {
				return fmt.Errorf("reading stream %s: no message for 10s at %d of %d", stream, done, total)
			}
		}
		return nil
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", stream, err)
	}
	defer iter.Stop()
	var done uint64
	tick := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := iter.Next(jetstream.NextMaxWait(10 * time.Second))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				return fmt.Errorf("reading stream %s: no message for 10s at %d of %d", stream, done, total)
			}
			return fmt.Errorf("reading stream %s: %w", stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Stream > last {
			return nil
		}
		if err := fn(m, meta); err != nil {
			return err
		}
		done++
		if o.progress != nil && time.Since(tick) > 500*time.Millisecond {
			tick = time.Now()
			o.progress(done, total)
		}
		if meta.NumPending == 0 || meta.Sequence.Stream >= last {
			if o.progress != nil {
				o.progress(done, total)
			}
			return nil
		}
	}
}

// ---- answering long operations over HTTP ----

// progressWriter answers a long operation with newline-delimited JSON: some
// {"progress": ...} lines, then one {"result": ...} or {"error": "..."}.
type progressWriter struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	last time.Time
}

func newProgressWriter(w http.ResponseWriter) *progressWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &progressWriter{w: w}
}

func (p *progressWriter) line(v map[string]any) {
	b, _ := json.Marshal(v)
	p.w.Write(append(b, '\n'))
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *progressWriter) progress(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.line(map[string]any{"progress": v})
}

func (p *progressWriter) result(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(map[string]any{"result": v})
}

func (p *progressWriter) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(map[string]any{"error": err.Error()})
}

// operatorName checks the operator token and returns the operator's name.
func (b *Broker) operatorName(w http.ResponseWriter, r *http.Request) (string, bool) {
	if name, ok := b.registry.ops[bearer(r)]; ok {
		return name, true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ecm-broker"`)
	writeError(w, http.StatusUnauthorized, "an operator token is required (Authorization: Bearer <token>)")
	return "", false
}

// ---- a child's history: the child index ----

// recordedEvent is one event of a child as recorded and decided.
type recordedEvent struct {
	Seq    uint64
	Stored time.Time // when the broker recorded it
	Event  *Event
	Record AuditRecord // the pipeline's decision
	// Generated holds the pipeline's records of the events this one caused.
	Generated []AuditRecord
}

// childAudit reads every audit record of a child, oldest first.
func (b *Broker) childAudit(ctx context.Context, key string) ([]AuditRecord, error) {
	var out []AuditRecord
	err := scanStream(ctx, b.js, StreamAudit, scanOpts{filter: []string{AuditSubject(key)}}, func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
		var rec AuditRecord
		if err := json.Unmarshal(m.Data(), &rec); err != nil {
			return nil // not a record this version reads; verification reports it
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

// childHistory returns the events of a child that the pipeline decided,
// oldest first, each read by its ingest sequence. The sequences come from
// the child's record in ECM_CHILDREN when it lists them ("events", one
// lookup: the child index), else from the child's audit subject (every
// decided event has a record there naming its ingest sequence; slower on a
// large audit stream, whose blocks the subject is spread over). Events
// erased or expired since are left out.
func (b *Broker) childHistory(ctx context.Context, key string) ([]recordedEvent, error) {
	if seqs, ok, err := b.indexedEvents(ctx, key); err != nil {
		return nil, err
	} else if ok {
		return b.historyBySeq(ctx, seqs)
	}
	recs, err := b.childAudit(ctx, key)
	if err != nil {
		return nil, err
	}
	return b.historyFrom(ctx, recs)
}

// indexedEvents reads the ingest sequences listed in a child's record
// ("events": every event applied, see ChildState). ok is false when the
// record keeps no list (written before the list was kept) or is absent.
func (b *Broker) indexedEvents(ctx context.Context, key string) ([]uint64, bool, error) {
	e, err := b.children.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the child index: %w", err)
	}
	var seqs []uint64
	found := false
	_ = jsonFields(e.Value(), fields{"events": true}, func(_ string, v []byte) {
		found = json.Unmarshal(v, &seqs) == nil
	})
	return seqs, found && len(seqs) > 0, nil
}

// historyBySeq reads the events at the given ingest sequences with the
// pipeline's audit record of each (for the time it used, and to keep only
// decided events): the audit records are found by the event's id, the
// audit subject's newest records first.
func (b *Broker) historyBySeq(ctx context.Context, seqs []uint64) ([]recordedEvent, error) {
	msgs, err := b.ingestBySeq(ctx, seqs)
	if err != nil {
		return nil, err
	}
	out := make([]recordedEvent, 0, len(seqs))
	for i, m := range msgs {
		if m == nil {
			continue
		}
		ev, err := storedEvent(m.Subject, m.Header, m.Data, m.Time.UTC().Format(time.RFC3339Nano))
		if err != nil {
			continue
		}
		out = append(out, recordedEvent{Seq: seqs[i], Stored: m.Time, Event: ev,
			Record: AuditRecord{IngestSeq: seqs[i], EventID: ev.ID, Source: ev.Source, Type: ev.Type, EventTime: ev.Time.UTC().Format(time.RFC3339Nano)}})
	}
	return out, nil
}

// ingestBySeq reads ingest messages by sequence, a few at a time; a message
// erased or expired is nil.
func (b *Broker) ingestBySeq(ctx context.Context, seqs []uint64) ([]*jetstream.RawStreamMsg, error) {
	stream, err := b.js.Stream(ctx, StreamIngest)
	if err != nil {
		return nil, err
	}
	msgs := make([]*jetstream.RawStreamMsg, len(seqs))
	errs := make([]error, len(seqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, seq := range seqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			msgs[i], errs[i] = stream.GetMsg(ctx, seq)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			msgs[i] = nil
		} else if err != nil {
			return nil, fmt.Errorf("reading event %d: %w", seqs[i], err)
		}
	}
	return msgs, nil
}

func (b *Broker) historyFrom(ctx context.Context, recs []AuditRecord) ([]recordedEvent, error) {
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
	msgs, err := b.ingestBySeq(ctx, seqs)
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
		ev, err := storedEvent(msgs[i].Subject, msgs[i].Header, msgs[i].Data, e.Record.EventTime)
		if err != nil {
			continue
		}
		e.Event, e.Stored = ev, msgs[i].Time
		out = append(out, *e)
	}
	return out, nil
}

// storedEvent rebuilds the Event the pipeline decided from a stored ingest
// message, without validating it again (it was valid when decided, and the
// schemas may have changed since). eventTime is the time the pipeline used
// (from the audit record) for an event published without one.
func storedEvent(subject string, h nats.Header, data []byte, eventTime string) (*Event, error) {
	raw, ok := structuredFast(h, data)
	if !ok {
		var err error
		if raw, err = cenats.Decode(&nats.Msg{Subject: subject, Header: h, Data: data}); err != nil {
			return nil, err
		}
	}
	publisher, _ := parseIngestSubject(subject)
	str := func(k string) string { s, _ := raw.String(k); return s }
	typ := str("type")
	entry, ok := schemas.Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("type %q is not in the catalogue", typ)
	}
	at, err := time.Parse(time.RFC3339Nano, str("time"))
	if err != nil {
		if at, err = time.Parse(time.RFC3339Nano, eventTime); err != nil {
			return nil, fmt.Errorf("event %s has no time", str("id"))
		}
	}
	var d map[string]any
	if err := json.Unmarshal(raw.Data, &d); err != nil || d == nil {
		return nil, fmt.Errorf("event %s: data is not a JSON object", str("id"))
	}
	attrs := make(map[string]any, len(raw.Attrs)+2)
	for k, v := range raw.Attrs {
		attrs[k] = v
	}
	attrs["time"] = at.UTC().Format(time.RFC3339Nano)
	attrs["datacontenttype"] = "application/json"
	return &Event{ID: str("id"), Source: str("source"), Type: typ, Name: entry.Name, Subject: str("subject"), Time: at,
		Override: str("override"), Practitioner: str("practitioner"), Publisher: publisher, Attrs: attrs, Data: d, Raw: raw.Data}, nil
}

// structuredFast reads a structured-mode event as cenats.Decode does, in
// one pass over the bytes (the impact analysis reads hundreds of thousands).
// ok is false for anything but a plain structured event.
func structuredFast(h nats.Header, data []byte) (cenats.Raw, bool) {
	ct := h.Get(cenats.HeaderContentType)
	if !strings.HasPrefix(ct, cenats.ContentTypeStructured) && (ct != "" || len(data) == 0 || data[0] != '{') {
		return cenats.Raw{}, false
	}
	r := cenats.Raw{Attrs: map[string]any{}, Structured: true}
	ok := true
	err := jsonFields(data, allFields, func(k string, v []byte) {
		switch {
		case k == "data":
			if string(v) != "null" {
				r.Data = v
			}
		case k == "data_base64":
			ok = false
		case len(v) > 0 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0:
			r.Attrs[k] = string(v[1 : len(v)-1])
		default:
			var val any
			if json.Unmarshal(v, &val) != nil {
				ok = false
			}
			r.Attrs[k] = val
		}
	})
	return r, ok && err == nil
}

// allFields makes jsonFields pass every field.
var allFields = everyField{}

// ---- replay ----

// ReplaySelection says which recorded events a replay takes. Every field is
// optional except the participant; the rest narrow the selection.
type ReplaySelection struct {
	Participant string   `json:"participant"`
	From        string   `json:"from,omitempty"` // recorded at or after (RFC 3339)
	To          string   `json:"to,omitempty"`   // recorded before
	FromSeq     uint64   `json:"from_seq,omitempty"`
	ToSeq       uint64   `json:"to_seq,omitempty"`
	Child       string   `json:"child,omitempty"` // a UIN; never stored: the audit keeps the child key
	Types       []string `json:"types,omitempty"` // catalogue names (caf.completed) or types
	DryRun      bool     `json:"dry_run,omitempty"`
}

// ReplayItem is what a replay did with one event.
type ReplayItem struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Outcome string `json:"outcome"` // delivered, already-delivered, denied (would-deliver in a dry run)
	Basis   string `json:"basis"`
	Reason  string `json:"reason,omitempty"`
	Removed int    `json:"removed,omitempty"`
}

// ReplayResult is the answer of a replay.
type ReplayResult struct {
	ID               string          `json:"id"`
	Operator         string          `json:"operator"`
	Selection        ReplaySelection `json:"selection"`
	PolicyRevision   string          `json:"policy_revision"`
	Children         int             `json:"children"`
	Selected         int             `json:"selected"`
	AlreadyDelivered int             `json:"already_delivered"`
	Delivered        int             `json:"delivered"`
	Denied           int             `json:"denied"`
	DeniedBy         map[string]int  `json:"denied_by,omitempty"`
	Items            []ReplayItem    `json:"items"`
	ItemsTruncated   bool            `json:"items_truncated,omitempty"`
}

const replayItemsMax = 10000

type replaySel struct {
	ReplaySelection
	from, to time.Time
	types    map[string]bool
	key      string
}

func (s *replaySel) wants(name string) bool { return len(s.types) == 0 || s.types[name] }

func (s *replaySel) inRange(seq uint64, stored time.Time) bool {
	return (s.FromSeq == 0 || seq >= s.FromSeq) && (s.ToSeq == 0 || seq <= s.ToSeq) &&
		(s.from.IsZero() || !stored.Before(s.from)) && (s.to.IsZero() || stored.Before(s.to))
}

func (b *Broker) checkSelection(sel ReplaySelection) (*replaySel, error) {
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
		name := strings.TrimSuffix(strings.TrimPrefix(t, "uk.gov.ecm."), ".v1")
		if _, ok := schemas.Lookup("uk.gov.ecm." + name + ".v1"); !ok {
			return nil, fmt.Errorf("types: %q is not in the event catalogue", t)
		}
		s.types[name] = true
	}
	return s, nil
}

// Replay re-delivers the selected events to one participant (see the top of
// this file). operator is who asked; progress is called now and then.
func (b *Broker) Replay(ctx context.Context, operator string, sel ReplaySelection, progress func(any)) (*ReplayResult, error) {
	s, err := b.checkSelection(sel)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(any) {}
	}
	res := &ReplayResult{ID: randomHex(8), Operator: operator, Selection: sel, PolicyRevision: b.decider.Policy().Revision,
		DeniedBy: map[string]int{}, Items: []ReplayItem{}}
	sel.Child = "" // the audit keeps no UIN
	runErr := b.replay(ctx, s, res, progress)
	counts := map[string]int{"children": res.Children, "selected": res.Selected, "already_delivered": res.AlreadyDelivered,
		"delivered": res.Delivered, "denied": res.Denied}
	action := &AuditAction{Kind: "replay", ID: res.ID, By: operator, Participant: sel.Participant, Selection: &sel, Counts: counts}
	if s.key != "" {
		action.Reason = "one child: child key " + s.key
	}
	if runErr != nil {
		action.Error = runErr.Error()
	}
	if sel.DryRun {
		action.Kind = "replay-dry-run"
	}
	rec := AuditRecord{ChildKey: "_ops", Type: "replay", Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: res.PolicyRevision, Outcome: action.Kind, Decisions: []Decision{}, Action: action, msgID: "audit-replay:" + res.ID}
	if err := b.auditWait(ctx, rec); err != nil && runErr == nil {
		runErr = fmt.Errorf("auditing the replay: %w", err)
	}
	b.log.Info("replay", zap.String("id", res.ID), zap.String("operator", operator), zap.String("participant", sel.Participant),
		zap.Int("selected", res.Selected), zap.Int("delivered", res.Delivered), zap.Int("already", res.AlreadyDelivered), zap.Int("denied", res.Denied))
	return res, runErr
}

// auditWait writes one audit record and waits until it is stored.
func (b *Broker) auditWait(ctx context.Context, rec AuditRecord) error {
	f, err := b.auditAsync(rec)
	if err != nil {
		return err
	}
	return waitFutures(ctx, []jetstream.PubAckFuture{f})
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
	ev     *Event
	state  ChildState
	key    string
}

func (b *Broker) replay(ctx context.Context, s *replaySel, res *ReplayResult, progress func(any)) error {
	// 1. Which children, and which of their events.
	var keys []string
	picked := map[string]map[uint64]bool{} // child key → selected sequences (nil: by range)
	if s.key != "" {
		keys = []string{s.key}
		picked[s.key] = nil
	} else {
		filter := []string{"ecm.ingest.>"}
		err := scanStream(ctx, b.js, StreamIngest, scanOpts{filter: filter, startSeq: s.FromSeq, startTime: s.from, lastSeq: s.ToSeq,
			progress: func(done, total uint64) {
				progress(map[string]any{"phase": "select", "done": done, "total": total})
			}}, func(m jetstream.Msg, meta *jetstream.MsgMetadata) error {
			if !s.inRange(meta.Sequence.Stream, meta.Timestamp) {
				return nil
			}
			raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
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
			picked[key][meta.Sequence.Stream] = true
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
		var state ChildState
		chosen := false
		for _, h := range hist {
			want := s.inRange(h.Seq, h.Stored)
			if seqs := picked[key]; seqs != nil {
				want = seqs[h.Seq]
			}
			before := state
			after, applied := before.Apply(h.Event, h.Seq)
			if want {
				n := len(cands)
				if s.wants(h.Event.Name) {
					cands = append(cands, replayCandidate{seq: h.Seq, stored: h.Stored, ev: h.Event, state: before, key: key})
				}
				for _, g := range derive(h.Event, before.Index, after.Index, applied, b.registry.serves) {
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
	err := scanStream(ctx, b.js, StreamDelivery, scanOpts{filter: []string{DeliverySubject(p)}, headersOnly: true, startTime: earliest.Add(-time.Minute),
		progress: func(done, total uint64) {
			progress(map[string]any{"phase": "held", "done": done, "total": total})
		}}, func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
		held[m.Headers().Get(jetstream.MsgIDHeader)] = true
		return nil
	})
	if err != nil {
		return err
	}
	// 4. Decide again; audit; deliver. Audit first, so nothing is delivered unaudited.
	current := map[string]ChildState{}
	type pending struct {
		c replayCandidate
		d Decision
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
		item := ReplayItem{Seq: c.seq, EventID: c.ev.ID, Type: c.ev.Type}
		if held[id] {
			item.Outcome = "already-delivered"
			res.AlreadyDelivered++
			res.addItem(item)
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
		then := b.decideFor(ctx, c.ev, c.state, p)
		later := b.decideFor(ctx, c.ev, now, p)
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
		res.addItem(item)
		if s.DryRun {
			continue
		}
		rec := AuditRecord{IngestSeq: c.seq, EventID: c.ev.ID, Source: c.ev.Source, Type: c.ev.Type, Publisher: c.ev.Publisher,
			ChildKey: c.key, EventTime: c.ev.Time.UTC().Format(time.RFC3339Nano), DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
			PolicyRevision: res.PolicyRevision, Outcome: "replayed", Decisions: []Decision{d}, Review: d.Review,
			Action: &AuditAction{Kind: "replay", ID: res.ID, By: res.Operator, Participant: p, AtEvent: &then, Now: &later},
			msgID:  "audit-replay:" + res.ID + ":" + cenats.MsgID(c.ev.Source, c.ev.ID)}
		if cause, ok := c.ev.Attrs["causedby"].(string); ok {
			rec.CausedBy = cause
		}
		f, err := b.auditAsync(rec)
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

func (r *ReplayResult) addItem(it ReplayItem) {
	if len(r.Items) >= replayItemsMax {
		r.ItemsTruncated = true
		return
	}
	r.Items = append(r.Items, it)
}

// decideFor evaluates the policy serving now for e against state st and
// returns participant p's decision; a participant the broker would not ask
// about the event (not a candidate) has no relationship with the child.
func (b *Broker) decideFor(ctx context.Context, e *Event, st ChildState, p string) Decision {
	cands := b.registry.candidates(e, st.Index)
	found := false
	for _, c := range cands {
		found = found || c.ID == p
	}
	if !found {
		return Decision{Participant: p, Basis: "no-relationship", Remove: []string{},
			Reason: "not a participant the broker asks about this child (rule 2)"}
	}
	decisions, _, _ := b.decider.Decide(ctx, policyInput(e, st.Index, st.Consent, cands), cands)
	for _, d := range decisions {
		if d.Participant == p {
			return d
		}
	}
	return Decision{Participant: p, Basis: "policy-error", Remove: []string{}, Reason: "no decision"}
}

// combine is a replay's decision from the decision as of the event (then)
// and with the child's state now (now): allowed when both allow, on the
// basis it had; otherwise the denial; the fields either removes removed.
func combine(then, now Decision) Decision {
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
func (b *Broker) replayDeliver(e *Event, d Decision, replayID string) (jetstream.PubAckFuture, error) {
	body, err := json.Marshal(deliveredCopy(e, d.Remove))
	if err != nil {
		return nil, fmt.Errorf("encoding copy of %s for %s: %w", e.ID, d.Participant, err)
	}
	m := nats.NewMsg(DeliverySubject(d.Participant))
	m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
	m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID(e.Source, e.ID)+"@"+d.Participant)
	m.Header.Set(HeaderBasis, d.Basis)
	m.Header.Set(HeaderReplay, replayID)
	m.Data = body
	return b.js.PublishMsgAsync(m)
}

// handleReplay is POST /v1/replay (operators): a ReplaySelection in, NDJSON
// progress lines and a ReplayResult out.
func (b *Broker) handleReplay(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	var sel ReplaySelection
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sel); err != nil {
		writeError(w, http.StatusBadRequest, "body: a replay selection: "+err.Error())
		return
	}
	if _, err := b.checkSelection(sel); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := newProgressWriter(w)
	res, err := b.Replay(r.Context(), op, sel, out.progress)
	if err != nil {
		out.fail(err)
		return
	}
	out.result(res)
}
