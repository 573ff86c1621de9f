package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Handler routes every endpoint.
func (b *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Who may call each route: participantOnly, operatorOnly(role) (auth.go).
	mux.HandleFunc("POST /v1/events", b.participantOnly(b.serve(b.handleIngest)))
	mux.HandleFunc("GET /v1/deliveries", b.participantOnly(b.serve(b.handleDeliveries)))
	mux.HandleFunc("GET /v1/audit", b.operatorOnly(config.RoleRead, b.serve(b.handleAudit)))
	mux.HandleFunc("GET /v1/deadletters", b.operatorOnly(config.RoleRead, b.serve(b.handleDeadLetters)))
	mux.HandleFunc("POST /v1/policy/reload", b.operatorOnly(config.RolePolicy, b.serve(b.handleReload)))
	mux.HandleFunc("POST /v1/decide", b.operatorOnly(config.RoleRead, b.serve(b.handleDecide)))
	b.policyRoutes(mux)  // the policy's revisions and four-eyes proposals (policy.go)
	b.pushRoutes(mux)    // push delivery to webhooks: status, retry (push.go)
	b.opsRoutes(mux)     // operations: verify, replay, backfill, impact, sar, disclosures, erase (ops.go)
	b.consoleRoutes(mux) // the console's: what-if, dead-letter triage, reviewed SAR, overview (console_api.go)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", b.serve(b.handleReady))
	// Metrics name participants: an operator's token here, or none on the
	// broker's own metrics address (--metrics-listen: MetricsHandler).
	mux.HandleFunc("GET /metrics", b.operatorOnly(config.RoleRead, b.MetricsHandler().ServeHTTP))
	return mux
}

// MetricsHandler serves the Prometheus metrics without a token, for the
// broker's own metrics address (--metrics-listen).
func (b *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(b.metrics.Registry, promhttp.HandlerOpts{})
}

func (b *Server) handleReady(w http.ResponseWriter, _ *http.Request) error {
	ready, degraded, checks := b.readiness()
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ready, "degraded": degraded, "checks": checks})
	return nil
}

// readiness is what /readyz and GET /v1/operations report.
func (b *Server) readiness() (ready, degraded bool, checks map[string]string) {
	checks = map[string]string{"nats": "ok", "policy": "ok", "audit": "ok"}
	ready = true
	if !b.nc.IsConnected() {
		checks["nats"], ready = "disconnected", false
	}
	if p := b.decider.Policy(); p == nil {
		checks["policy"], ready = "not loaded", false
	} else {
		checks["policy_revision"] = p.Revision
	}
	if !b.pipe.AuditWritable() {
		checks["audit"], ready = "not writable: deliveries stopped", false
	}
	if r := b.reloader.Refused(); r != "" {
		checks["policy_reload"] = "refused: " + r
	}
	checks["audit_chain"], degraded = auditChainCheck(b.auditMon.Status())
	return ready, degraded, checks
}

// auditChainCheck words what the audit's verification found for /readyz. A
// broken chain leaves the instance ready (degraded): taking it out of
// service or restarting it repairs nothing in the store, and would stop
// every agency's events about every child; an operator must act
// (docs/operations.md, "A damaged audit"), alerted by ecm_audit_chain_broken.
func auditChainCheck(s api.AuditChainStatus) (string, bool) {
	var out string
	degraded := false
	switch s.State {
	case audit.ChainWhole:
		out = fmt.Sprintf("whole: %d records verified (checked %s)", s.Records, s.CheckedAt)
	case audit.ChainBroken:
		degraded = true
		out = fmt.Sprintf("broken: %d problem(s) in %d records (checked %s", s.BreakCount, s.Records, s.CheckedAt)
		if s.LastWhole != "" {
			out += ", last whole " + s.LastWhole
		}
		out += ")"
		if f := s.FirstBreak; f != nil {
			out += fmt.Sprintf("; first at sequence %d: %s", f.Seq, f.Problem)
		}
		out += `; deliveries continue; see docs/operations.md, "A damaged audit"`
	default:
		out = "not verified yet"
	}
	if s.Error != "" {
		degraded = true
		out += "; the last check could not read the audit: " + s.Error
	}
	return out, degraded
}

// handleReload is POST /v1/policy/reload (operators): read the policy
// source now rather than at the next poll.
func (b *Server) handleReload(w http.ResponseWriter, r *http.Request) error {
	if !b.operatorFor(w, r) {
		return nil
	}
	op, _ := b.operatorName(w, r)
	changed, err := b.reloader.ReloadAs(r.Context(), op) // recorded as a revision of origin reload and audited (broker/govern)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "policy refused, the previous one keeps serving: " + err.Error(),
			"revision": b.decider.Policy().Revision})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": changed, "revision": b.decider.Policy().Revision})
	return nil
}

// handleDeliveries is GET /v1/deliveries?after=SEQ&limit=N for the
// participant whose token is given: its copies with a sequence greater than
// after, in order. next is the cursor to pass as after on the next call.
func (b *Server) handleDeliveries(w http.ResponseWriter, r *http.Request) error {
	p, ok := b.participantFor(w, r)
	if !ok {
		return nil
	}
	after, limit, ok := paging(w, r)
	if !ok || !b.cursorInRange(w, r, wire.StreamDelivery, after) { // cursor.go
		return nil
	}
	msgs, err := store.ReadSubject(r.Context(), b.js, wire.StreamDelivery, wire.DeliverySubject(p.ID), after, limit)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	b.metrics.Read(p.ID) // limits.go: who has stopped reading
	out := api.DeliveryPage{Deliveries: []api.Delivery{}, Next: after}
	for _, m := range msgs {
		out.Deliveries = append(out.Deliveries, api.Delivery{Seq: m.Seq, Basis: m.Header.Get(wire.HeaderBasis), Event: m.Data})
		out.Next = m.Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleAudit is GET /v1/audit?child=UIN (operators): every record about
// the child, oldest first.
func (b *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	child, err := childParam(r)
	if err != nil {
		return err
	}
	msgs, err := store.ReadSubject(r.Context(), b.js, wire.StreamAudit, wire.AuditSubject(b.children.Key(child)), 0, 100000)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	records := make([]api.AuditRecord, 0, len(msgs))
	for _, m := range msgs {
		var rec api.AuditRecord
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			continue
		}
		rec.Child = child
		records = append(records, rec)
	}
	if len(records) > 0 && !b.logRead(w, r, op, b.children.Key(child), map[string]int{"records": len(records)}) { // accesslog.go
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": records})
	return nil
}

// handleDeadLetters is GET /v1/deadletters?after=SEQ&limit=N[&open=true]
// (operators): each with what an operator did about it (triage); open=true
// lists only those nobody has dealt with (console_api.go).
func (b *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	after, limit, ok := paging(w, r)
	if !ok || !b.cursorInRange(w, r, wire.StreamDeadLetter, after) {
		return nil
	}
	open := false
	if s := r.URL.Query().Get("open"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return errorf(http.StatusBadRequest, "open: true or false")
		}
		open = v
	}
	out, err := b.deadLetterPage(r.Context(), after, limit, open)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	if !b.logDeadLetterRead(w, r, op, out.DeadLetters) { // accesslog.go
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func paging(w http.ResponseWriter, r *http.Request) (after uint64, limit int, ok bool) {
	q := r.URL.Query()
	limit = 100
	if s := q.Get("after"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after: must be a whole number from 0: a sequence, such as the \"next\" of the previous page")
			return 0, 0, false
		}
		after = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 1000 {
			writeError(w, http.StatusBadRequest, "limit: must be a whole number from 1 to 1000")
			return 0, 0, false
		}
		limit = v
	}
	return after, limit, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func errField(err error) zap.Field { return zap.Error(err) }

// opsRoutes registers the operator and IG-lead endpoints.
func (b *Server) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/audit/verify", b.operatorOnly(config.RoleRead, b.serve(b.handleVerify)))
	mux.HandleFunc("POST /v1/audit/verify", b.operatorOnly(config.RoleRead, b.serve(b.handleVerify)))
	mux.HandleFunc("POST /v1/replay", b.operatorOnly(config.RoleReplay, b.serve(b.handleReplay)))
	// A backfill discloses under today's policy what was never disclosed:
	// whoever may change the policy decides it (issue 11, section 3).
	mux.HandleFunc("POST /v1/backfill", b.operatorOnly(config.RolePolicy, b.serve(b.handleBackfill)))
	mux.HandleFunc("POST /v1/impact", b.operatorOnly(config.RolePolicy, b.serve(b.handleImpact)))
	mux.HandleFunc("GET /v1/sar", b.operatorOnly(config.RoleRead, b.serve(b.handleSubjectAccess)))
	mux.HandleFunc("GET /v1/disclosures", b.participantOnly(b.serve(b.handleDisclosures)))
	mux.HandleFunc("POST /v1/erase", b.operatorOnly(config.RoleErase, b.serve(b.handleErase)))
}
