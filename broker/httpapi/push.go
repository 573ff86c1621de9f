package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/push"
)

// pushRoutes registers the push delivery endpoints (docs/push.md).
func (b *Server) pushRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/push", b.operatorOnly(config.RoleRead, b.serve(b.handlePushStatus)))
	// Sending copies again is a replay's kind of act: the replay role.
	mux.HandleFunc("POST /v1/push/retry", b.operatorOnly(config.RoleReplay, b.serve(b.handlePushRetry)))
}

// handlePushStatus is GET /v1/push (operators): api.PushStatus.
func (b *Server) handlePushStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := b.push.Status(r.Context())
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "reading the push status: %v", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// handlePushRetry is POST /v1/push/retry (operators with the replay role):
// an api.PushRetryRequest in, an api.PushRetryResult out.
func (b *Server) handlePushRetry(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.PushRetryRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "body: {\"participant\": \"<area>/<agency>\"}: %v", err)
	}
	if req.Participant == "" {
		return errorf(http.StatusBadRequest, "participant: name the participant whose dead-lettered copies to push again, such as leeds/pct")
	}
	res, err := b.push.Retry(r.Context(), req.Participant, op)
	switch {
	case errors.Is(err, push.ErrNoWebhook):
		return errorf(http.StatusNotFound, "%q has no push webhook in the configuration, so nothing is pushed to it or dead-lettered for it", req.Participant)
	case err != nil:
		return errorf(http.StatusServiceUnavailable, "the retry stopped after re-queuing %d copies (audited as %s): %v", res.Requeued, res.ID, err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
