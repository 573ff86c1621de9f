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
// answer (p's own events only, never a position in ECM_INGEST).
func (b *Pipeline) Ingest(ctx context.Context, p config.Participant, m *nats.Msg) api.IngestResult {
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
		return res
	}
	m.Subject = wire.IngestSubject(p.ID, ev.Subject)
	msgID := cenats.MsgID(ev.Source, ev.ID)
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	ack, err := b.JS.PublishMsg(ctx, m)
	if err != nil {
		return api.IngestResult{ID: ev.ID, Status: http.StatusServiceUnavailable, Outcome: "error", Error: "not stored, try again: " + err.Error()}
	}
	res := api.IngestResult{ID: ev.ID, Status: http.StatusAccepted, Outcome: "accepted", Seq: ack.Sequence}
	if ack.Duplicate {
		res.Outcome = "duplicate"
		if same, err := b.sameAsStored(ctx, ack.Stream, ack.Sequence, m); err == nil && !same {
			probs := []api.Problem{{Field: "id", Reason: fmt.Sprintf("was already used by %s for a different event", ev.Source)}}
			b.Reject(ctx, p.ID, m, probs)
			return api.IngestResult{ID: ev.ID, Status: http.StatusConflict, Outcome: "conflict", Error: "duplicate id with different content", Problems: probs}
		}
	}
	return res
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
