package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batch limits: a batch is an overnight export's worth of events sent at
// once, but not an unbounded one.
const (
	maxBatchEvents = 1000
	maxBatchBytes  = 16 << 20
)

// IngestResult is the answer for one event.
type IngestResult struct {
	Index    int       `json:"index"`
	ID       string    `json:"id,omitempty"`
	Status   int       `json:"status"`
	Outcome  string    `json:"outcome"` // accepted, duplicate, invalid, forbidden, conflict, error
	Seq      uint64    `json:"seq,omitempty"`
	Error    string    `json:"error,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// handleIngest is POST /v1/events: the CloudEvents HTTP binding in
// structured, binary and batch modes.
func (b *Broker) handleIngest(w http.ResponseWriter, r *http.Request) {
	p, ok := b.participantFor(w, r)
	if !ok {
		return
	}
	ct := r.Header.Get("Content-Type")
	batch := strings.HasPrefix(ct, cenats.ContentTypeBatch)
	limit := int64(maxEventBytes)
	if batch {
		limit = maxBatchBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if int64(len(body)) > limit {
		probs := []Problem{{"event", fmt.Sprintf("body is over %d bytes", limit)}}
		b.rejectHTTP(r.Context(), p.ID, &nats.Msg{Header: nats.Header{"Content-Type": {ct}}, Data: body}, probs)
		writeJSON(w, http.StatusRequestEntityTooLarge, IngestResult{Status: http.StatusRequestEntityTooLarge, Outcome: "invalid",
			Error: "event too large", Problems: probs})
		return
	}
	if !batch {
		msg := httpMessage(r.Header, body)
		res := b.ingestOne(r.Context(), p, msg)
		writeJSON(w, res.Status, res)
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || items == nil {
		if err == nil {
			err = fmt.Errorf("it is JSON null")
		}
		probs := []Problem{{"batch", "must be a JSON array of structured events: " + cenats.DescribeJSONError(err)}}
		b.rejectHTTP(r.Context(), p.ID, &nats.Msg{Header: nats.Header{"Content-Type": {ct}}, Data: body}, probs)
		writeJSON(w, http.StatusBadRequest, IngestResult{Status: http.StatusBadRequest, Outcome: "invalid", Error: "invalid batch", Problems: probs})
		return
	}
	if len(items) > maxBatchEvents {
		probs := []Problem{{"batch", fmt.Sprintf("has %d events, at most %d", len(items), maxBatchEvents)}}
		b.rejectHTTP(r.Context(), p.ID, &nats.Msg{Header: nats.Header{"Content-Type": {ct}}, Data: body}, probs)
		writeJSON(w, http.StatusRequestEntityTooLarge, IngestResult{Status: http.StatusRequestEntityTooLarge, Outcome: "invalid", Error: "batch too large", Problems: probs})
		return
	}
	results := make([]IngestResult, len(items))
	for i, item := range items {
		m := nats.NewMsg("")
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Data = item
		results[i] = b.ingestOne(r.Context(), p, m)
		results[i].Index = i
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// httpMessage turns an HTTP request into the NATS message the ingest stream
// stores: structured as is, binary with its ce- headers carried over.
func httpMessage(h http.Header, body []byte) *nats.Msg {
	m := nats.NewMsg("")
	m.Data = body
	ct := h.Get("Content-Type")
	if strings.HasPrefix(ct, cenats.ContentTypeStructured) || h.Get("Ce-Specversion") == "" && ct == "" {
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		return m
	}
	for name, values := range h {
		if strings.HasPrefix(strings.ToLower(name), cenats.HeaderPrefix) {
			for _, v := range values {
				m.Header.Add(strings.ToLower(name), v)
			}
		}
	}
	if ct != "" {
		m.Header.Set(cenats.HeaderContentType, ct)
	}
	return m
}

// ingestOne validates one event from participant p and, when valid, stores
// it durably in the ingest stream.
func (b *Broker) ingestOne(ctx context.Context, p Participant, m *nats.Msg) IngestResult {
	raw, err := cenats.Decode(m)
	var ev *Event
	var probs []Problem
	if err != nil {
		probs = []Problem{{"event", err.Error()}}
	} else {
		ev, probs = Validate(raw, p.ID, time.Now())
	}
	if len(probs) > 0 {
		id, _ := raw.String("id")
		b.rejectHTTP(ctx, p.ID, m, probs)
		res := IngestResult{ID: id, Status: http.StatusBadRequest, Outcome: "invalid", Error: "invalid event", Problems: capProblems(probs)}
		if onlySource(probs) {
			res.Status, res.Outcome, res.Error = http.StatusForbidden, "forbidden", "an event's source must be the publisher's own identity"
		}
		return res
	}
	m.Subject = IngestSubject(p.ID, ev.Subject)
	msgID := cenats.MsgID(ev.Source, ev.ID)
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	ack, err := b.js.PublishMsg(ctx, m)
	if err != nil {
		return IngestResult{ID: ev.ID, Status: http.StatusServiceUnavailable, Outcome: "error", Error: "not stored, try again: " + err.Error()}
	}
	res := IngestResult{ID: ev.ID, Status: http.StatusAccepted, Outcome: "accepted", Seq: ack.Sequence}
	if ack.Duplicate {
		res.Outcome = "duplicate"
		if same, err := b.sameAsStored(ctx, ack.Sequence, m); err == nil && !same {
			probs := []Problem{{"id", fmt.Sprintf("was already used by %s for a different event", ev.Source)}}
			b.rejectHTTP(ctx, p.ID, m, probs)
			return IngestResult{ID: ev.ID, Status: http.StatusConflict, Outcome: "conflict", Error: "duplicate id with different content", Problems: probs}
		}
	}
	return res
}

// sameAsStored compares a duplicate with the stored event of that id.
func (b *Broker) sameAsStored(ctx context.Context, seq uint64, m *nats.Msg) (bool, error) {
	s, err := b.js.Stream(ctx, StreamIngest)
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
func onlySource(probs []Problem) bool {
	for _, p := range probs {
		if p.Field != "source" || !strings.Contains(p.Reason, errSourceNotPublisher) {
			return false
		}
	}
	return len(probs) > 0
}

// rejectHTTP dead-letters an input refused at the HTTP edge. If even that
// fails, the publisher still got its error answer; the failure is logged.
func (b *Broker) rejectHTTP(ctx context.Context, publisher string, m *nats.Msg, probs []Problem) {
	f, err := b.deadLetterAsync(publisher, m, probs, "http-"+randomHex(12))
	if err == nil {
		select {
		case <-f.Ok():
			return
		case err = <-f.Err():
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	b.log.Error("dead-lettering failed", errField(err))
}

var errUnauthorized = errors.New("unauthorized")
