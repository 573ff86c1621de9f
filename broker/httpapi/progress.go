package httpapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// progressWriter answers a long operation with newline-delimited JSON: some
// {"progress": ...} lines, then one {"result": ...} or {"error": "..."}.
type progressWriter struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	last time.Time
}

func newProgressWriter(w http.ResponseWriter) *progressWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &progressWriter{w: w}
}

func (p *progressWriter) line(v map[string]any) {
	b, _ := json.Marshal(v)
	p.w.Write(append(b, '\n'))
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *progressWriter) progress(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.line(map[string]any{"progress": v})
}

func (p *progressWriter) result(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(map[string]any{"result": v})
}

func (p *progressWriter) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(map[string]any{"error": err.Error()})
}

// operatorName checks the operator token and returns the operator's name.
func (b *Server) operatorName(w http.ResponseWriter, r *http.Request) (string, bool) {
	if name, ok := b.registry.OperatorByToken(bearer(r)); ok {
		return name, true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ecm-broker"`)
	writeError(w, http.StatusUnauthorized, "an operator token is required (Authorization: Bearer <token>)")
	return "", false
}
