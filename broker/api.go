package broker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

func (b *Broker) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", b.handleIngest)
	mux.HandleFunc("GET /v1/deliveries", b.handleDeliveries)
	mux.HandleFunc("GET /v1/audit", b.handleAudit)
	mux.HandleFunc("GET /v1/deadletters", b.handleDeadLetters)
	mux.HandleFunc("POST /v1/policy/reload", b.handleReload)
	mux.HandleFunc("POST /v1/decide", b.handleDecide)
	b.opsRoutes(mux) // operations: verify, replay, impact, sar, disclosures, erase (chain.go)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", b.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func (b *Broker) handleReady(w http.ResponseWriter, _ *http.Request) {
	checks := map[string]string{"nats": "ok", "policy": "ok", "audit": "ok"}
	ready := true
	if !b.nc.IsConnected() {
		checks["nats"], ready = "disconnected", false
	}
	if p := b.decider.Policy(); p == nil {
		checks["policy"], ready = "not loaded", false
	} else {
		checks["policy_revision"] = p.Revision
	}
	if !b.auditOK.Load() {
		checks["audit"], ready = "not writable: deliveries stopped", false
	}
	if r := b.refused.Load(); r != nil {
		checks["policy_reload"] = "refused: " + *r
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ready, "checks": checks})
}

// handleReload is POST /v1/policy/reload (operators): read the policy
// source now rather than at the next poll.
func (b *Broker) handleReload(w http.ResponseWriter, r *http.Request) {
	if !b.operatorFor(w, r) {
		return
	}
	changed, err := b.ReloadPolicy(r.Context())
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "policy refused, the previous one keeps serving: " + err.Error(),
			"revision": b.decider.Policy().Revision})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": changed, "revision": b.decider.Policy().Revision})
}

// Delivery is one delivered copy as read back.
type Delivery struct {
	Seq   uint64          `json:"seq"`
	Basis string          `json:"basis,omitempty"`
	Event json.RawMessage `json:"event"`
}

// handleDeliveries is GET /v1/deliveries?after=SEQ&limit=N for the
// participant whose token is given: its copies with a sequence greater than
// after, in order. next is the cursor to pass as after on the next call.
func (b *Broker) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	p, ok := b.participantFor(w, r)
	if !ok {
		return
	}
	after, limit, ok := paging(w, r)
	if !ok || !b.cursorInRange(w, r, StreamDelivery, after) { // cursor.go
		return
	}
	msgs, err := b.readSubject(r.Context(), StreamDelivery, DeliverySubject(p.ID), after, limit)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	b.metrics.lastRead.WithLabelValues(p.ID).SetToCurrentTime() // limits.go: who has stopped reading
	out := struct {
		Deliveries []Delivery `json:"deliveries"`
		Next       uint64     `json:"next"`
	}{Deliveries: []Delivery{}, Next: after}
	for _, m := range msgs {
		out.Deliveries = append(out.Deliveries, Delivery{Seq: m.seq, Basis: m.header.Get(HeaderBasis), Event: m.data})
		out.Next = m.seq
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAudit is GET /v1/audit?child=UIN (operators): every record about
// the child, oldest first.
func (b *Broker) handleAudit(w http.ResponseWriter, r *http.Request) {
	if !b.operatorFor(w, r) {
		return
	}
	child := r.URL.Query().Get("child")
	if err := uin.Check(child); err != nil {
		writeError(w, http.StatusBadRequest, "child: "+err.Error())
		return
	}
	msgs, err := b.readSubject(r.Context(), StreamAudit, AuditSubject(b.children.Key(child)), 0, 100000)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	records := make([]AuditRecord, 0, len(msgs))
	for _, m := range msgs {
		var rec AuditRecord
		if err := json.Unmarshal(m.data, &rec); err != nil {
			continue
		}
		rec.Child = child
		records = append(records, rec)
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": records})
}

// handleDeadLetters is GET /v1/deadletters?after=SEQ&limit=N (operators).
func (b *Broker) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !b.operatorFor(w, r) {
		return
	}
	after, limit, ok := paging(w, r)
	if !ok || !b.cursorInRange(w, r, StreamDeadLetter, after) {
		return
	}
	msgs, err := b.readSubject(r.Context(), StreamDeadLetter, "ecm.deadletter.>", after, limit)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := struct {
		DeadLetters []DeadLetter `json:"deadletters"`
		Next        uint64       `json:"next"`
	}{DeadLetters: []DeadLetter{}, Next: after}
	for _, m := range msgs {
		var dl DeadLetter
		if err := json.Unmarshal(m.data, &dl); err != nil {
			continue
		}
		dl.Seq = m.seq
		out.DeadLetters = append(out.DeadLetters, dl)
		out.Next = m.seq
	}
	writeJSON(w, http.StatusOK, out)
}

type header map[string][]string

func (h header) Get(k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readSubject reads up to limit messages on subject with a stream sequence
// above after, with an ordered consumer that starts at after+1 (JetStream
// skips to the subject through its per-subject index). The consumer says how
// many messages match, so the fetch waits for exactly those and no longer.
func (b *Broker) readSubject(ctx context.Context, stream, subject string, after uint64, limit int) ([]storedMsgH, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	var cons jetstream.Consumer
	var err error
	for try := 0; ; try++ { // a cluster that is electing a leader answers "no responders" for a moment
		if cons, err = b.js.OrderedConsumer(ctx, stream, cfg); err == nil || try == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	want := int(min(uint64(limit), info.NumPending))
	out := make([]storedMsgH, 0, want)
	for len(out) < want {
		batch, err := cons.Fetch(min(want-len(out), 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			out = append(out, storedMsgH{seq: meta.Sequence.Stream, header: header(m.Headers()), data: m.Data()})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

type storedMsgH struct {
	seq    uint64
	header header
	data   []byte
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

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (b *Broker) participantFor(w http.ResponseWriter, r *http.Request) (Participant, bool) {
	p, ok := b.registry.byToken[bearer(r)]
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ecm-broker"`)
		writeError(w, http.StatusUnauthorized, "a participant token is required (Authorization: Bearer <token>)")
	}
	return p, ok
}

func (b *Broker) operatorFor(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := b.registry.ops[bearer(r)]; ok {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ecm-broker"`)
	writeError(w, http.StatusUnauthorized, "an operator token is required (Authorization: Bearer <token>)")
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func errField(err error) zap.Field { return zap.Error(err) }
