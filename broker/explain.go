package broker

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
)

// Explanation is the answer of POST /v1/decide: what the current policy
// would decide for an event against the current state, delivering nothing.
type Explanation struct {
	EventID        string        `json:"event_id"`
	Type           string        `json:"type"`
	Publisher      string        `json:"publisher"`
	AsOf           string        `json:"as_of"`
	PolicyRevision string        `json:"policy_revision"`
	ChildKnown     bool          `json:"child_known"`
	Error          string        `json:"error,omitempty"`
	Decisions      []Decision    `json:"decisions"`
	Generated      []Explanation `json:"generated,omitempty"`

	// Superseded and Note: what the child's state would not take of the
	// event, as its audit record would say (order.go).
	Superseded bool   `json:"superseded,omitempty"`
	Note       string `json:"note,omitempty"`
}

// handleDecide is POST /v1/decide[?as_of=TIME] (operators): explain the
// decision for one structured event. as_of replaces the event's time, so
// ages and consent expiry are taken then.
func (b *Broker) handleDecide(w http.ResponseWriter, r *http.Request) {
	if !b.operatorFor(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEventBytes+1))
	if err != nil || len(body) > maxEventBytes {
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
	ev, probs := Validate(raw, publisher, now.Add(time.Minute))
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
	after, applied := st.Apply(ev, st.LastSeq+1)
	out.Superseded, out.Note = len(applied.Superseded) > 0, applied.Note()
	for _, g := range derive(ev, st.Index, after.Index, applied, b.registry.serves) {
		out.Generated = append(out.Generated, b.explain(r, g, after.Index, after.Consent))
	}
	writeJSON(w, http.StatusOK, out)
}

func (b *Broker) explain(r *http.Request, e *Event, x *IndexRecord, c *Consent) Explanation {
	candidates := b.registry.candidates(e, x)
	decisions, rev, err := b.decider.Decide(r.Context(), policyInput(e, x, c, candidates), candidates)
	out := Explanation{EventID: e.ID, Type: e.Type, Publisher: e.Publisher, AsOf: e.Time.UTC().Format(time.RFC3339),
		PolicyRevision: rev, ChildKnown: x != nil, Decisions: decisions}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}
