package ops

// Dead-letter triage (docs/operations.md, "Dead-letter triage"): what an
// operator did about a dead letter, kept in wire.BucketTriage under the dead
// letter's sequence, so that GET /v1/deadletters shows it and ?open=true
// lists only what nobody has dealt with. A note is operator text and must
// not carry child data (the API says so); it is erased with its dead letter
// all the same (erase.go). The audit records each triage on the _ops
// subject, naming the dead letter's sequence and never the note.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Triage errors the HTTP API answers with their own status.
var (
	ErrNoDeadLetter  = errors.New("no such dead letter")
	ErrAlreadyTriage = errors.New("already dealt with")
)

// Triage actions.
const (
	TriageResolved    = "resolved"
	TriageResubmitted = "resubmitted"
)

// minNoteLen keeps triage explained.
const minNoteLen = 5

// CheckNote says what is wrong with a triage note, if anything.
func CheckNote(note string) error {
	if len([]rune(strings.TrimSpace(note))) < minNoteLen {
		return fmt.Errorf("note: say what was done about the dead letter, in at least %d characters (no child data: names, dates of birth, UINs)", minNoteLen)
	}
	if len(note) > 2000 {
		return fmt.Errorf("note: at most 2000 characters")
	}
	return nil
}

// DeadLetter reads one dead letter with its triage, if any.
func (b *Ops) DeadLetter(ctx context.Context, seq uint64) (api.DeadLetter, error) {
	s, err := b.js.Stream(ctx, wire.StreamDeadLetter)
	if err != nil {
		return api.DeadLetter{}, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return api.DeadLetter{}, fmt.Errorf("dead letter %d: %w (erased, or never stored)", seq, ErrNoDeadLetter)
	}
	if err != nil {
		return api.DeadLetter{}, fmt.Errorf("reading dead letter %d: %w", seq, err)
	}
	var dl api.DeadLetter
	if err := json.Unmarshal(m.Data, &dl); err != nil {
		return api.DeadLetter{}, fmt.Errorf("dead letter %d cannot be read: %w", seq, err)
	}
	dl.Seq = seq
	t, err := b.Triage(ctx, seq)
	if err != nil {
		return api.DeadLetter{}, err
	}
	dl.Triage = t
	return dl, nil
}

// IsRefusedCopy reports whether a dead letter is a copy refused by a
// delivery limit (a replay delivers it) rather than a rejected input.
func IsRefusedCopy(subject string) bool {
	return strings.HasPrefix(subject, wire.UndeliveredSubject(""))
}

// triageKV is the triage bucket.
func (b *Ops) triageKV(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := b.js.KeyValue(ctx, wire.BucketTriage)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", wire.BucketTriage, err)
	}
	return kv, nil
}

// Triage is what was done about dead letter seq, or nil.
func (b *Ops) Triage(ctx context.Context, seq uint64) (*api.DeadLetterTriage, error) {
	kv, err := b.triageKV(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, wire.TriageKey(seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the triage of dead letter %d: %w", seq, err)
	}
	var t api.DeadLetterTriage
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return nil, fmt.Errorf("triage of dead letter %d cannot be read: %w", seq, err)
	}
	return &t, nil
}

// Triaged lists the sequences of the dead letters that have a triage.
func (b *Ops) Triaged(ctx context.Context) (map[uint64]bool, error) {
	kv, err := b.triageKV(ctx)
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", wire.BucketTriage, err)
	}
	out := map[uint64]bool{}
	for k := range lister.Keys() {
		var seq uint64
		if _, err := fmt.Sscan(k, &seq); err == nil {
			out[seq] = true
		}
	}
	return out, nil
}

// RecordTriage stores what operator did about a dead letter (t.Seq), once:
// a dead letter already dealt with is ErrAlreadyTriage. The triage is
// audited before it is reported done.
func (b *Ops) RecordTriage(ctx context.Context, operator string, t api.DeadLetterTriage) (api.DeadLetterTriage, error) {
	t.By, t.At = operator, time.Now().UTC().Format(time.RFC3339Nano)
	kv, err := b.triageKV(ctx)
	if err != nil {
		return t, err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return t, err
	}
	if _, err := kv.Create(ctx, wire.TriageKey(t.Seq), body); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return t, fmt.Errorf("dead letter %d: %w", t.Seq, ErrAlreadyTriage)
		}
		return t, fmt.Errorf("storing the triage of dead letter %d: %w", t.Seq, err)
	}
	if err := b.AuditTriage(ctx, operator, t); err != nil {
		return t, err
	}
	b.log.Info("dead letter triage", zap.Uint64("seq", t.Seq), zap.String("action", t.Action), zap.String("operator", operator))
	return t, nil
}

// AuditTriage records a triage (or a resubmission refused, which is not
// stored as one) on the _ops subject: the dead letter's sequence, the
// action and what came of it, never the note or the body.
func (b *Ops) AuditTriage(ctx context.Context, operator string, t api.DeadLetterTriage) error {
	kind := "deadletter-" + t.Action
	if t.Action == TriageResubmitted && !t.Accepted {
		kind = "deadletter-resubmit-refused"
	}
	counts := map[string]int{"dead_letter_seq": int(t.Seq)}
	if len(t.Problems) > 0 {
		counts["problems"] = len(t.Problems)
	}
	id := randomHex(8)
	reason := fmt.Sprintf("dead letter %d %s", t.Seq, strings.ReplaceAll(t.Action, "resolved", "marked as dealt with"))
	if t.Action == TriageResubmitted && !t.Accepted {
		reason = fmt.Sprintf("dead letter %d: a corrected body was refused, nothing published", t.Seq)
	}
	rec := api.AuditRecord{ChildKey: "_ops", Type: kind, Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: b.decider.Policy().Revision, Outcome: kind, Decisions: []api.Decision{},
		Action: &api.AuditAction{Kind: kind, ID: id, By: operator, Reason: reason, Counts: counts}}
	if err := b.audit.Action(ctx, rec, kind, id); err != nil {
		return fmt.Errorf("auditing the triage of dead letter %d: %w", t.Seq, err)
	}
	return nil
}

// eraseTriage removes the triage of dead letters being erased.
func (b *Ops) eraseTriage(ctx context.Context, seqs []uint64) (int, error) {
	kv, err := b.triageKV(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, seq := range seqs {
		_, err := kv.Get(ctx, wire.TriageKey(seq))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("reading the triage of dead letter %d: %w", seq, err)
		}
		if err := kv.Purge(ctx, wire.TriageKey(seq)); err != nil {
			return n, fmt.Errorf("purging the triage of dead letter %d: %w", seq, err)
		}
		n++
	}
	return n, nil
}
