package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"go.uber.org/zap"
)

// handleDecide is POST /v1/decide[?as_of=TIME] (operators): explain the
// decision for one structured event. as_of replaces the event's time, so
// ages and consent expiry are taken then.
func (b *Server) handleDecide(w http.ResponseWriter, r *http.Request) {
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
	out, err := b.ops.Explain(r.Context(), ev)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleVerify is GET /v1/audit/verify[?stream=NAME][&public_key=B64]
// (operators): NDJSON progress lines, then the report.
func (b *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	stream := r.URL.Query().Get("stream")
	if stream == "" {
		stream = wire.StreamAudit
	}
	if !strings.HasPrefix(stream, wire.StreamAudit) {
		writeError(w, http.StatusBadRequest, "stream: only "+wire.StreamAudit+" or a copy named "+wire.StreamAudit+"_... can be verified")
		return
	}
	keys := b.audit.TrustedKeys(b.cfg)
	if k := r.URL.Query().Get("public_key"); k != "" {
		keys = map[string]bool{k: true}
	}
	out := newProgressWriter(w)
	b.log.Info("audit verification", zap.String("operator", op), zap.String("stream", stream))
	rep, err := b.auditLog.Verify(r.Context(), stream, keys, func(done, total uint64) {
		out.progress(map[string]any{"phase": "verify", "done": done, "total": total})
	})
	if err != nil {
		out.fail(err)
		return
	}
	out.result(rep)
}

// handleReplay is POST /v1/replay (operators): a ReplaySelection in, NDJSON
// progress lines and a ReplayResult out.
func (b *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	var sel api.ReplaySelection
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sel); err != nil {
		writeError(w, http.StatusBadRequest, "body: a replay selection: "+err.Error())
		return
	}
	if _, err := b.ops.CheckSelection(sel); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := newProgressWriter(w)
	res, err := b.ops.Replay(r.Context(), op, sel, out.progress)
	if err != nil {
		out.fail(err)
		return
	}
	out.result(res)
}

// handleImpact is POST /v1/impact (operators): NDJSON progress, then the
// report. One analysis runs at a time.
func (b *Server) handleImpact(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	var req api.ImpactRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: {\"modules\": {name: source}, \"from\", \"to\"}: "+err.Error())
		return
	}
	main, rego := map[string]string{}, 0
	for n, src := range req.Modules {
		if policies.IsData(n) || policies.IsModule(n) && !policies.IsTest(n) {
			main[n] = src
		}
		if policies.IsModule(n) && !policies.IsTest(n) {
			rego++
		}
	}
	if rego == 0 {
		writeError(w, http.StatusBadRequest, "modules: the draft has no .rego files (tests are not counted)")
		return
	}
	draft, err := policy.CompileDraft(r.Context(), main)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "the draft does not compile: "+err.Error())
		return
	}
	unlock, ok := b.ops.LockImpact()
	if !ok {
		writeError(w, http.StatusConflict, "an impact analysis is already running; try again when it ends")
		return
	}
	defer unlock()
	out := newProgressWriter(w)
	b.log.Info("impact analysis", zap.String("operator", op), zap.String("draft", draft.Revision))
	rep, err := b.ops.Impact(r.Context(), draft, req, out.progress)
	if err != nil {
		out.fail(err)
		return
	}
	out.result(rep)
}

// handleSubjectAccess is GET /v1/sar?child=UIN (operators).
func (b *Server) handleSubjectAccess(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	child := r.URL.Query().Get("child")
	if err := uin.Check(child); err != nil {
		writeError(w, http.StatusBadRequest, "child: "+err.Error())
		return
	}
	sa, err := b.ops.SubjectAccess(r.Context(), op, child)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, sa)
}

// handleDisclosures is GET /v1/disclosures?child=UIN (participant token):
// the participant's own events about the child, and who received each,
// replays included. Nothing about other publishers' events.
func (b *Server) handleDisclosures(w http.ResponseWriter, r *http.Request) {
	p, ok := b.participantFor(w, r)
	if !ok {
		return
	}
	child := r.URL.Query().Get("child")
	if err := uin.Check(child); err != nil {
		writeError(w, http.StatusBadRequest, "child: "+err.Error())
		return
	}
	out, err := b.ops.Disclosures(r.Context(), p.ID, child)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, api.DisclosureList{Child: child, Participant: p.ID, Events: out})
}

// handleErase is POST /v1/erase (operators).
func (b *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	var req api.ErasureRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: {\"child\": UIN, \"reason\": TEXT}: "+err.Error())
		return
	}
	if err := uin.Check(req.Child); err != nil {
		writeError(w, http.StatusBadRequest, "child: "+err.Error())
		return
	}
	res, err := b.ops.Erase(r.Context(), op, req.Child, req.Reason)
	switch {
	case err != nil && res == nil:
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "erasure incomplete, run it again: " + err.Error(), "erasure": res})
	default:
		writeJSON(w, http.StatusOK, res)
	}
}
