package broker

import (
	"net/http"
	"strings"

	"github.com/ecm-broker/ecm-broker/wire"
	"go.uber.org/zap"
)

// handleVerify is GET /v1/audit/verify[?stream=NAME][&public_key=B64]
// (operators): NDJSON progress lines, then the report.
func (b *Broker) handleVerify(w http.ResponseWriter, r *http.Request) {
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
