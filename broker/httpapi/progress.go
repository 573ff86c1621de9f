package httpapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// progressWriter answers a long operation with newline-delimited JSON: some
// {"progress": ...} lines, then one {"result": ...} or {"error": "..."}.
// The server's WriteTimeout does not end the stream: each line has its own
// write deadline (streamLineTimeout, server_limits.go), so an operation may
// run as long as it needs while a client that stops reading is still cut.
type progressWriter struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	rc   *http.ResponseController
	last time.Time
}

func newProgressWriter(w http.ResponseWriter) *progressWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(streamLineTimeout)) // not supported by every writer (tests)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &progressWriter{w: w, rc: rc}
}

func (p *progressWriter) line(v map[string]any) {
	b, _ := json.Marshal(v)
	_ = p.rc.SetWriteDeadline(time.Now().Add(streamLineTimeout))
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
