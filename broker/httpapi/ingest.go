package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/nats-io/nats.go"
)

// handleIngest is POST /v1/events: the CloudEvents HTTP binding in
// structured, binary and batch modes.
func (b *Server) handleIngest(w http.ResponseWriter, r *http.Request) error {
	p, ok := b.participantFor(w, r)
	if !ok {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	batch := strings.HasPrefix(ct, cenats.ContentTypeBatch)
	limit := int64(event.MaxBytes)
	if batch {
		limit = maxBatchBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "reading body: %v", err)
	}
	if int64(len(body)) > limit {
		probs := []api.Problem{{Field: "event", Reason: fmt.Sprintf("body is over %d bytes", limit)}}
		b.pipe.Reject(r.Context(), p.ID, &nats.Msg{Header: nats.Header{"Content-Type": {ct}}, Data: body}, probs)
		writeJSON(w, http.StatusRequestEntityTooLarge, api.IngestResult{Status: http.StatusRequestEntityTooLarge, Outcome: "invalid",
			Error: "event too large", Problems: probs})
		return nil
	}
	if !batch {
		msg := httpMessage(r.Header, body)
		res := b.pipe.Ingest(r.Context(), p, msg)
		writeJSON(w, res.Status, res)
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || items == nil {
		if err == nil {
			err = fmt.Errorf("it is JSON null")
		}
		probs := []api.Problem{{Field: "batch", Reason: "must be a JSON array of structured events: " + cenats.DescribeJSONError(err)}}
		b.pipe.Reject(r.Context(), p.ID, &nats.Msg{Header: nats.Header{"Content-Type": {ct}}, Data: body}, probs)
		writeJSON(w, http.StatusBadRequest, api.IngestResult{Status: http.StatusBadRequest, Outcome: "invalid", Error: "invalid batch", Problems: probs})
		return nil
	}
	if len(items) > maxBatchEvents {
		probs := []api.Problem{{Field: "batch", Reason: fmt.Sprintf("has %d events, at most %d", len(items), maxBatchEvents)}}
		b.pipe.Reject(r.Context(), p.ID, &nats.Msg{Header: nats.Header{"Content-Type": {ct}}, Data: body}, probs)
		writeJSON(w, http.StatusRequestEntityTooLarge, api.IngestResult{Status: http.StatusRequestEntityTooLarge, Outcome: "invalid", Error: "batch too large", Problems: probs})
		return nil
	}
	msgs := make([]*nats.Msg, len(items))
	for i, item := range items {
		msgs[i] = nats.NewMsg("")
		msgs[i].Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		msgs[i].Data = item
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": b.pipe.IngestBatch(r.Context(), p, msgs)})
	return nil
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

// Batch limits: a batch is an overnight export's worth of events sent at
// once, but not an unbounded one.
const (
	maxBatchEvents = 1000
	maxBatchBytes  = 16 << 20
)
