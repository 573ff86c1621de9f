package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"go.uber.org/zap"
)

// cursorInRange answers 400 for a paging cursor (?after=SEQ) beyond the
// stream's last sequence: a cursor the broker never handed out, which
// JetStream would otherwise refuse with its own error (after+1 overflows at
// 2^64-1) or wait on for messages that do not exist yet. It reports whether
// the request may go on; when not, it has written the answer.
func (b *Server) cursorInRange(w http.ResponseWriter, r *http.Request, stream string, after uint64) bool {
	if after == 0 {
		return true
	}
	last, err := b.lastSequence(r.Context(), stream)
	if err != nil {
		b.log.Warn("reading a stream's last sequence", zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "the broker cannot read its store now; try again shortly")
		return false
	}
	if after > last {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(
			"after: %d is beyond the last sequence the broker holds (%d); start from 0, or pass the \"next\" of the previous page", after, last))
		return false
	}
	return true
}

func (b *Server) lastSequence(ctx context.Context, stream string) (uint64, error) {
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.LastSeq, nil
}
