package run

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// HTTPSourceOptions configure the HTTP endpoint that accepts native exports.
type HTTPSourceOptions struct {
	// Addr is where to listen, e.g. 127.0.0.1:8090; port 0 picks one.
	Addr string
	// Token, if set, is the bearer token callers must present.
	Token string
	// MaxBody bounds an export's size; default 256 MiB.
	MaxBody int64
	Logger  *zap.Logger
}

// httpSource is POST /v1/records?format=<hint> with the export as the body.
// The answer waits until every record is in the broker or rejected: 200 with
// the counts and rejects; 422 when nothing could be mapped (an export not in
// that format, or every record rejected); 413 for an export over the limit;
// 503 when the adapter stopped before the end (send it again: the broker
// stores each event once).
type httpSource struct {
	o     HTTPSourceOptions
	log   *zap.Logger
	ln    net.Listener
	srv   *http.Server
	reqs  chan *httpExport
	quit  chan struct{}
	close sync.Once
	ready chan struct{} // closed once listening
}

type httpExport struct {
	exp     *Export
	rejects bytes.Buffer
	done    chan Result
}

// NewHTTPSource returns the HTTP endpoint source.
func NewHTTPSource(o HTTPSourceOptions) *httpSource {
	if o.MaxBody <= 0 {
		o.MaxBody = 256 << 20
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &httpSource{o: o, log: o.Logger, reqs: make(chan *httpExport), quit: make(chan struct{}),
		ready: make(chan struct{})}
}

// Addr is the address listened on; it waits for Connect.
func (s *httpSource) Addr() string {
	<-s.ready
	return s.ln.Addr().String()
}

func (s *httpSource) Connect(context.Context) error {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	defer close(s.ready)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/records", s.handleRecords)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http source stopped", zap.Error(err))
		}
	}()
	s.log.Info("accepting exports over http", zap.String("addr", ln.Addr().String()))
	return nil
}

func (s *httpSource) Read(ctx context.Context) (*Export, AckFunc, error) {
	select {
	case q := <-s.reqs:
		return q.exp, func(_ context.Context, res Result) error {
			q.done <- res
			return nil
		}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// httpAnswer is the body of every answer.
type httpAnswer struct {
	Result
	Rejects []string `json:"rejects,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func (s *httpSource) handleRecords(w http.ResponseWriter, r *http.Request) {
	if s.o.Token != "" {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.o.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ecm-adapter"`)
			answer(w, http.StatusUnauthorized, httpAnswer{Error: "a bearer token is required"})
			return
		}
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		answer(w, http.StatusBadRequest, httpAnswer{Error: "the format parameter is required, e.g. ?format=hl7"})
		return
	}
	q := &httpExport{done: make(chan Result, 1)}
	rc := http.NewResponseController(w)
	q.exp = &Export{Name: "http", Hint: format, Body: http.MaxBytesReader(w, r.Body, s.o.MaxBody),
		Rejects: &q.rejects, ctx: r.Context(),
		interrupt: func() { rc.SetReadDeadline(time.Now()) }}
	select {
	case s.reqs <- q:
	case <-r.Context().Done():
		return
	case <-s.quit:
		answer(w, http.StatusServiceUnavailable, httpAnswer{Error: "the adapter is stopping"})
		return
	}
	// The runner reads the body now; it acknowledges the export only once
	// it has stopped reading, whatever happens to the client.
	res := <-q.done
	a := httpAnswer{Result: res}
	if q.rejects.Len() > 0 {
		a.Rejects = strings.Split(strings.TrimSuffix(q.rejects.String(), "\n"), "\n")
	}
	code := http.StatusOK
	var tooBig *http.MaxBytesError
	switch {
	case res.Incomplete != nil:
		code, a.Error = http.StatusServiceUnavailable, "not every record is stored, send the export again"
		w.Header().Set("Retry-After", "5")
	case errors.As(res.Unreadable, &tooBig):
		code, a.Error = http.StatusRequestEntityTooLarge, fmt.Sprintf("the export is over %d bytes", tooBig.Limit)
	case res.Unreadable != nil:
		code, a.Error = http.StatusUnprocessableEntity, "the export could not be read, see rejects"
	case res.Failed():
		code, a.Error = http.StatusUnprocessableEntity, "every record was rejected, see rejects"
	}
	answer(w, code, a)
}

func answer(w http.ResponseWriter, code int, a httpAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(a)
}

func (s *httpSource) Close(ctx context.Context) error {
	s.close.Do(func() { close(s.quit) })
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

var _ Source = (*httpSource)(nil)
