package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/govern"
)

// policyRoutes registers the policy's revisions and four-eyes proposals
// (api/govern.go; broker/govern). Reading needs any operator; proposing,
// approving and refusing the policy role, and approving a second operator.
func (b *Server) policyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/policy", b.operatorOnly(config.RoleRead, b.serve(b.handlePolicyLive)))
	mux.HandleFunc("GET /v1/policy/revisions", b.operatorOnly(config.RoleRead, b.serve(b.handlePolicyRevisions)))
	mux.HandleFunc("GET /v1/policy/revisions/{rev}", b.operatorOnly(config.RoleRead, b.serve(b.handlePolicyRevision)))
	mux.HandleFunc("GET /v1/policy/proposals", b.operatorOnly(config.RoleRead, b.serve(b.handleProposals)))
	mux.HandleFunc("POST /v1/policy/proposals", b.operatorOnly(config.RolePolicy, b.serve(b.handlePropose)))
	mux.HandleFunc("GET /v1/policy/proposals/{id}", b.operatorOnly(config.RoleRead, b.serve(b.handleProposal)))
	mux.HandleFunc("POST /v1/policy/proposals/{id}/approve", b.operatorOnly(config.RolePolicy, b.serve(b.handleVerdict(true))))
	mux.HandleFunc("POST /v1/policy/proposals/{id}/refuse", b.operatorOnly(config.RolePolicy, b.serve(b.handleVerdict(false))))
	mux.HandleFunc("GET /v1/policy/audit", b.operatorOnly(config.RoleRead, b.serve(b.handlePolicyAudit)))
}

// governError answers an error of broker/govern with its status.
func governError(err error) error {
	for _, m := range []struct {
		err    error
		status int
	}{
		{govern.ErrNotFound, http.StatusNotFound}, {govern.ErrInvalid, http.StatusBadRequest}, {govern.ErrTooLarge, http.StatusRequestEntityTooLarge},
		{govern.ErrOwnProposal, http.StatusForbidden}, {govern.ErrNotOpen, http.StatusConflict}, {govern.ErrChecksFailed, http.StatusConflict},
		{govern.ErrStale, http.StatusConflict},
	} {
		if errors.Is(err, m.err) {
			return errorf(m.status, "%s", err.Error())
		}
	}
	return err
}

// handlePolicyLive is GET /v1/policy: the live revision, its matrix in
// words, whether hot reload is on.
func (b *Server) handlePolicyLive(w http.ResponseWriter, r *http.Request) error {
	out, err := b.govern.Live(r.Context())
	if err != nil {
		return governError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handlePolicyRevisions is GET /v1/policy/revisions: every revision that
// was live, newest first.
func (b *Server) handlePolicyRevisions(w http.ResponseWriter, r *http.Request) error {
	out, err := b.govern.Revisions(r.Context())
	if err != nil {
		return governError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handlePolicyRevision is GET /v1/policy/revisions/{rev} ("live", or a
// revision id): the revision with its full text.
func (b *Server) handlePolicyRevision(w http.ResponseWriter, r *http.Request) error {
	out, err := b.govern.Revision(r.Context(), r.PathValue("rev"))
	if err != nil {
		return governError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleProposals is GET /v1/policy/proposals: every proposal, newest
// first, without files or diff.
func (b *Server) handleProposals(w http.ResponseWriter, r *http.Request) error {
	out, err := b.govern.Proposals(r.Context())
	if err != nil {
		return governError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handlePropose is POST /v1/policy/proposals: a draft in, checked and
// stored (201); its impact follows in the background.
func (b *Server) handlePropose(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.ProposalRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"title\", \"reason\", \"files\": {name: content}, \"delete\": [name]}: "+err.Error())
	}
	out, err := b.govern.Propose(r.Context(), op, req)
	if err != nil {
		return governError(err)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleProposal is GET /v1/policy/proposals/{id}.
func (b *Server) handleProposal(w http.ResponseWriter, r *http.Request) error {
	out, err := b.govern.Proposal(r.Context(), r.PathValue("id"))
	if err != nil {
		return governError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleVerdict is POST /v1/policy/proposals/{id}/approve and .../refuse.
func (b *Server) handleVerdict(approve bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		op, ok := b.operatorName(w, r)
		if !ok {
			return nil
		}
		var v api.ProposalVerdict
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return errorf(http.StatusBadRequest, "%s", "body: {\"reason\": TEXT}: "+err.Error())
		}
		decide := b.govern.Refuse
		if approve {
			decide = b.govern.Approve
		}
		out, err := decide(r.Context(), r.PathValue("id"), op, v)
		if err != nil && out == nil {
			return governError(err)
		}
		if err != nil { // done, but not audited: say so
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "code": "internal", "proposal": out})
			return nil
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// handlePolicyAudit is GET /v1/policy/audit: the audit's records of the
// policy's proposals, approvals, refusals and activations, oldest first.
func (b *Server) handlePolicyAudit(w http.ResponseWriter, r *http.Request) error {
	recs, err := b.auditLog.Child(r.Context(), opsKey)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	out := []api.AuditRecord{}
	for _, rec := range recs {
		if rec.Action != nil && strings.HasPrefix(rec.Action.Kind, "policy-") {
			out = append(out, rec)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out})
	return nil
}
