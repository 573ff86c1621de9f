package broker

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/cenats"
)

// handleDecide is POST /v1/decide[?as_of=TIME] (operators): explain the
// decision for one structured event. as_of replaces the event's time, so
// ages and consent expiry are taken then.
func (b *Broker) handleDecide(w http.ResponseWriter, r *http.Request) {
	if !b.operatorFor(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, event.MaxBytes+1))
	if err != nil || len(body) > event.MaxBytes {
		writeError(w, http.StatusBadRequest, "body: one structured CloudEvent of at most 1 MiB")
		return
	}
	raw, err := cenats.DecodeStructured(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := time.Now()
	if s := r.URL.Query().Get("as_of"); s != "" {
		if now, err = time.Parse(time.RFC3339, s); err != nil {
			writeError(w, http.StatusBadRequest, "as_of: must be an RFC 3339 time")
			return
		}
		raw.Attrs["time"] = now.UTC().Format(time.RFC3339)
	}
	source, _ := raw.String("source")
	publisher := strings.TrimPrefix(source, "/")
	if _, ok := b.registry.Participant(publisher); !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("source %q is not a registered participant", source))
		return
	}
	ev, probs := event.Validate(raw, publisher, now.Add(time.Minute))
	if len(probs) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid event", "problems": probs})
		return
	}
	st, _, err := b.children.Get(r.Context(), b.children.Key(ev.Subject))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := b.explain(r, ev, st.Index, st.Consent)
	after, _ := st.Apply(ev, st.LastSeq+1)
	for _, g := range child.Derive(ev, st.Index, after.Index) {
		out.Generated = append(out.Generated, b.explain(r, g, after.Index, after.Consent))
	}
	writeJSON(w, http.StatusOK, out)
}

func (b *Broker) explain(r *http.Request, e *event.Event, x *api.IndexRecord, c *api.Consent) api.Explanation {
	res := b.decider.Decide(r.Context(), policy.Request{Event: e, Index: x, Consent: c})
	out := api.Explanation{EventID: e.ID, Type: e.Type, Publisher: e.Publisher, AsOf: e.Time.UTC().Format(time.RFC3339),
		PolicyRevision: res.Revision, ChildKnown: x != nil, Decisions: res.Decisions}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	return out
}
