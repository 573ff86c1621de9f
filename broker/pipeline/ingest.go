package pipeline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Ingest validates one event from participant p and, when valid, stores it
// durably in p's own ingest stream, as if p had published it over NATS: the
// same duplicate detection (p's own ids only) and the same sequence in the
// answer (p's own events only, never a position in ECM_INGEST). It answers
// once ECM_INGEST has taken the event in (awaitTaken).
func (b *Pipeline) Ingest(ctx context.Context, p config.Participant, m *nats.Msg) api.IngestResult {
	res, at := b.ingest(ctx, p, m)
	if at != nil {
		b.awaitTaken(ctx, *at)
	}
	return res
}

// IngestBatch is Ingest for each of msgs, in order, answering once
// ECM_INGEST has taken in the last one stored (it takes a participant's
// events in the order its stream stored them).
func (b *Pipeline) IngestBatch(ctx context.Context, p config.Participant, msgs []*nats.Msg) []api.IngestResult {
	results := make([]api.IngestResult, len(msgs))
	var last *stored
	for i, m := range msgs {
		res, at := b.ingest(ctx, p, m)
		res.Index = i
		results[i] = res
		if at != nil && (last == nil || at.seq > last.seq) {
			last = at
		}
	}
	if last != nil {
		b.awaitTaken(ctx, *last)
	}
	return results
}

// Check is what Ingest would find wrong with m from p, storing nothing and
// dead-lettering nothing: an operator's corrected body for a dead letter
// (POST /v1/deadletters/{seq}/resubmit) is checked before it is ingested,
// so a body still wrong adds no dead letter of its own.
func (b *Pipeline) Check(p config.Participant, m *nats.Msg) []api.Problem {
	raw, err := cenats.Decode(m)
	if err != nil {
		return []api.Problem{{Field: "event", Reason: err.Error()}}
	}
	_, probs := event.Validate(raw, p.ID, time.Now())
	return capProblems(probs)
}

// stored is where an accepted event is: its subject, and its sequence in
// its publisher's own stream.
type stored struct {
	subject, stream string
	seq             uint64
}

func (b *Pipeline) ingest(ctx context.Context, p config.Participant, m *nats.Msg) (api.IngestResult, *stored) {
	raw, err := cenats.Decode(m)
	var ev *event.Event
	var probs []api.Problem
	if err != nil {
		probs = []api.Problem{{Field: "event", Reason: err.Error()}}
	} else {
		ev, probs = event.Validate(raw, p.ID, time.Now())
	}
	if len(probs) > 0 {
		id, _ := raw.String("id")
		b.Reject(ctx, p.ID, m, probs)
		res := api.IngestResult{ID: id, Status: http.StatusBadRequest, Outcome: "invalid", Error: "invalid event", Problems: capProblems(probs)}
		if onlySource(probs) {
			res.Status, res.Outcome, res.Error = http.StatusForbidden, "forbidden", "an event's source must be the publisher's own identity"
		}
		return res, nil
	}
	if res, ok := b.alreadyApplied(ctx, p.ID, m, ev); ok { // sent again after the duplicate window (resent.go)
		return res, nil
	}
	m.Subject = wire.IngestSubject(p.ID, ev.Subject)
	msgID := cenats.MsgID(ev.Source, ev.ID)
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	ack, err := b.JS.PublishMsg(ctx, m)
	if err != nil {
		return api.IngestResult{ID: ev.ID, Status: http.StatusServiceUnavailable, Outcome: "error", Error: "not stored, try again: " + err.Error()}, nil
	}
	res := api.IngestResult{ID: ev.ID, Status: http.StatusAccepted, Outcome: "accepted", Seq: ack.Sequence}
	if ack.Duplicate {
		res.Outcome = "duplicate"
		if same, err := b.sameAsStored(ctx, ack.Stream, ack.Sequence, m); err == nil && !same {
			probs := []api.Problem{{Field: "id", Reason: fmt.Sprintf("was already used by %s for a different event", ev.Source)}}
			b.Reject(ctx, p.ID, m, probs)
			return api.IngestResult{ID: ev.ID, Status: http.StatusConflict, Outcome: "conflict", Error: "duplicate id with different content", Problems: probs}, nil
		}
	}
	return res, &stored{subject: m.Subject, stream: ack.Stream, seq: ack.Sequence}
}

// awaitTaken waits until ECM_INGEST holds the event stored at at, so that
// an answer to the publisher orders its event before anything anyone
// publishes after the answer: ECM_INGEST takes each participant's stream in
// in order, but the streams of different participants side by side, so two
// events that different participants publish a moment apart can otherwise be
// taken in either way round. ECM_INGEST takes a participant's events in the
// order they were stored, so the last message on the event's subject there
// having come from at.seq or later means the event is in. After 5 s (sourcing
// stalled: ecm_ingest_unsourced counts it) the answer goes anyway: the event
// is stored and will be taken in.
func (b *Pipeline) awaitTaken(ctx context.Context, at stored) {
	ingest, err := b.ingestStream(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for wait := 100 * time.Microsecond; err == nil; wait = min(2*wait, 20*time.Millisecond) {
		var last *jetstream.RawStreamMsg
		if last, err = ingest.GetLastMsgForSubject(ctx, at.subject); err == nil {
			if name, seq, ok := wire.ParseSourced(last.Header.Get(wire.HeaderSourced)); ok && name == at.stream && seq >= at.seq {
				return
			}
		} else if errors.Is(err, jetstream.ErrMsgNotFound) {
			err = nil // not there yet
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("not taken in after 5s")
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	b.Log.Warn("answered before ECM_INGEST took the event in", zap.String("stream", at.stream), zap.Uint64("seq", at.seq), zap.Error(err))
}

// ingestStream is ECM_INGEST, read once: its handle answers reads of the
// last message on a subject directly (AllowDirect).
func (b *Pipeline) ingestStream(ctx context.Context) (jetstream.Stream, error) {
	if s, ok := b.ingestHandle.Load().(jetstream.Stream); ok {
		return s, nil
	}
	s, err := b.JS.Stream(ctx, wire.StreamIngest)
	if err != nil {
		return nil, err
	}
	b.ingestHandle.Store(s)
	return s, nil
}

// sameAsStored compares a duplicate with the stored event of that id, in
// the stream that answered (the publisher's own).
func (b *Pipeline) sameAsStored(ctx context.Context, stream string, seq uint64, m *nats.Msg) (bool, error) {
	s, err := b.JS.Stream(ctx, stream)
	if err != nil {
		return false, err
	}
	stored, err := s.GetMsg(ctx, seq)
	if err != nil {
		return false, err
	}
	return bytes.Equal(stored.Data, m.Data), nil
}

// onlySource reports whether the only thing wrong is a source that is not
// the publisher's own identity: a spoof, answered 403.
func onlySource(probs []api.Problem) bool {
	for _, p := range probs {
		if p.Field != "source" || !strings.Contains(p.Reason, event.ReasonSourceNotPublisher) {
			return false
		}
	}
	return len(probs) > 0
}

// rejectHTTP dead-letters an input refused at the HTTP edge. If even that
// fails, the publisher still got its error answer; the failure is logged.
func (b *Pipeline) Reject(ctx context.Context, publisher string, m *nats.Msg, probs []api.Problem) {
	fs, err := b.deadLetterAsync(publisher, m, probs, "http-"+randomHex(12))
	if err == nil {
		if err = audit.Await(ctx, fs...); err == nil {
			return
		}
	}
	b.Log.Error("dead-lettering failed", zap.Error(err))
}

var errUnauthorized = errors.New("unauthorized")

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
