package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/ops"
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
func (b *Server) handleDecide(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, event.MaxBytes+1))
	if err != nil || len(body) > event.MaxBytes {
		return errorf(http.StatusBadRequest, "body: one structured CloudEvent of at most 1 MiB")
	}
	raw, err := cenats.DecodeStructured(body)
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	now := time.Now()
	if s := r.URL.Query().Get("as_of"); s != "" {
		if now, err = time.Parse(time.RFC3339, s); err != nil {
			return errorf(http.StatusBadRequest, "as_of: must be an RFC 3339 time")
		}
		raw.Attrs["time"] = now.UTC().Format(time.RFC3339)
	}
	source, _ := raw.String("source")
	publisher := strings.TrimPrefix(source, "/")
	if _, ok := b.registry.Participant(publisher); !ok {
		return errorf(http.StatusBadRequest, "source %q is not a registered participant", source)
	}
	ev, probs := event.Validate(raw, publisher, now.Add(time.Minute))
	if len(probs) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid event", "problems": probs})
		return nil
	}
	out, err := b.ops.Explain(r.Context(), ev)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	if !b.logDecideRead(w, r, op, ev.Subject) { // accesslog.go
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleVerify is GET /v1/audit/verify[?stream=NAME][&public_key=B64][&heads=true]
// and POST /v1/audit/verify with an api.VerifyRequest (which can carry heads
// saved outside the broker) (operators): NDJSON progress lines, then the
// report. A full verification of ECM_AUDIT with the broker's own keys is
// also what /readyz reports until the next background check.
func (b *Server) handleVerify(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.VerifyRequest
	if r.Method == http.MethodPost {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return errorf(http.StatusBadRequest, "%s", "body: {\"stream\", \"public_key\", \"expect_heads\": [{\"chain\", \"index\", \"hash\"}], \"heads\"}: "+err.Error())
		}
	} else {
		q := r.URL.Query()
		req.Stream, req.PublicKey, req.Heads = q.Get("stream"), q.Get("public_key"), q.Get("heads") == "true"
	}
	if req.Stream == "" {
		req.Stream = wire.StreamAudit
	}
	if !strings.HasPrefix(req.Stream, wire.StreamAudit) {
		return errorf(http.StatusBadRequest, "%s", "stream: only "+wire.StreamAudit+" or a copy named "+wire.StreamAudit+"_... can be verified")
	}
	for i, h := range req.ExpectHeads {
		if h.Chain == "" || h.Index == 0 || len(h.Hash) != 64 {
			return errorf(http.StatusBadRequest, "expect_heads[%d]: a head needs a chain, an index from 1 and a SHA-256 hash (64 hex digits)", i)
		}
	}
	keys := b.audit.TrustedKeys(b.cfg)
	if req.PublicKey != "" {
		keys = map[string]bool{req.PublicKey: true}
	}
	out := newProgressWriter(w)
	b.log.Info("audit verification", zap.String("operator", op), zap.String("stream", req.Stream), zap.Int("expected_heads", len(req.ExpectHeads)))
	rep, err := b.auditLog.VerifyWith(r.Context(), req.Stream, audit.VerifyOptions{Keys: keys, ExpectHeads: req.ExpectHeads, Heads: req.Heads,
		Progress: func(done, total uint64) {
			out.progress(map[string]any{"phase": "verify", "done": done, "total": total})
		}})
	if err != nil {
		out.fail(err)
		return nil
	}
	if req.Stream == wire.StreamAudit && req.PublicKey == "" && len(req.ExpectHeads) == 0 {
		b.auditMon.Observe(rep)
	}
	out.result(rep)
	return nil
}

// handleReplay is POST /v1/replay (operators): a ReplaySelection in, NDJSON
// progress lines and a ReplayResult out.
func (b *Server) handleReplay(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var sel api.ReplaySelection
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sel); err != nil {
		return errorf(http.StatusBadRequest, "body: a replay selection: %v", err)
	}
	if _, err := b.ops.CheckSelection(sel); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	out := newProgressWriter(w)
	res, err := b.ops.Replay(r.Context(), op, sel, out.progress)
	if err != nil {
		out.fail(err)
		return nil
	}
	out.result(res)
	return nil
}

// handleBackfill is POST /v1/backfill (operators): a BackfillRequest in,
// NDJSON progress lines and a ReplayResult out. Without confirm it is a dry
// run; with confirm (the dry run's id) it sends what that dry run showed, or
// nothing. A confirmation that names no dry run of this selection is a 409
// before anything runs.
//
// Issue 12 brings operator roles; this endpoint is then for operators with
// the policy role (docs/operations.md, "Backfill").
func (b *Server) handleBackfill(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.BackfillRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: a replay selection and, to send, \"confirm\": the dry run's id: "+err.Error())
	}
	if _, err := b.ops.CheckBackfill(r.Context(), req); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ops.ErrNoDryRun) {
			code = http.StatusConflict
		}
		return errorf(code, "%v", err)
	}
	out := newProgressWriter(w)
	res, err := b.ops.Backfill(r.Context(), op, req, out.progress)
	if err != nil {
		out.fail(err)
		return nil
	}
	out.result(res)
	return nil
}

// handleImpact is POST /v1/impact (operators): NDJSON progress, then the
// report. One analysis runs at a time.
func (b *Server) handleImpact(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.ImpactRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"modules\": {name: source}, \"from\", \"to\"}: "+err.Error())
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
		return errorf(http.StatusBadRequest, "modules: the draft has no .rego files (tests are not counted)")
	}
	draft, err := policy.CompileDraft(r.Context(), main)
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "the draft does not compile: %v", err)
	}
	unlock, ok := b.ops.LockImpact()
	if !ok {
		return errorf(http.StatusConflict, "an impact analysis is already running; try again when it ends")
	}
	defer unlock()
	out := newProgressWriter(w)
	b.log.Info("impact analysis", zap.String("operator", op), zap.String("draft", draft.Revision))
	rep, err := b.ops.Impact(r.Context(), draft, req, out.progress)
	if err != nil {
		out.fail(err)
		return nil
	}
	out.result(rep)
	return nil
}

// handleSubjectAccess is GET /v1/sar?child=UIN (operators).
func (b *Server) handleSubjectAccess(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	child, err := childParam(r)
	if err != nil {
		return err
	}
	sa, err := b.ops.SubjectAccess(r.Context(), op, child)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	writeJSON(w, http.StatusOK, sa)
	return nil
}

// handleDisclosures is GET /v1/disclosures?child=UIN (participant token):
// the participant's own events about the child, and who received each,
// replays included. Nothing about other publishers' events.
func (b *Server) handleDisclosures(w http.ResponseWriter, r *http.Request) error {
	p, ok := b.participantFor(w, r)
	if !ok {
		return nil
	}
	child, err := childParam(r)
	if err != nil {
		return err
	}
	out, gaps, err := b.ops.Disclosures(r.Context(), p.ID, child)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	writeJSON(w, http.StatusOK, api.DisclosureList{Child: child, Participant: p.ID, Events: out, Gaps: gaps})
	return nil
}

// handleErase is POST /v1/erase (operators).
func (b *Server) handleErase(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.ErasureRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"child\": UIN, \"reason\": TEXT}: "+err.Error())
	}
	if err := uin.Check(req.Child); err != nil {
		return errorf(http.StatusBadRequest, "child: %v", err)
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
	return nil
}
