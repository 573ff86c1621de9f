// Package testenv starts a real broker for tests: an embedded nats-server
// with JetStream on a random loopback port, the real policies, the HTTP API
// on a random loopback port. It is the one helper every suite in test/ uses.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// Env is a running broker and a client for its API.
type Env struct {
	T      testing.TB
	Broker *broker.Broker
	Config *config.Config
	Base   string
	Dir    string
}

// Start runs a broker with the demo configuration (leeds and york, six
// agencies each; tokens demo.Token(id), operator demo.OperatorToken) in dir
// (a new temporary one when empty), and stops it when the test ends.
func Start(t testing.TB, dir string) *Env {
	t.Helper()
	return StartWith(t, broker.Options{Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
}

// StartWith runs a broker with o, filling in what o leaves empty: the demo
// configuration, the built-in policies, loopback addresses with random
// ports, a temporary store.
func StartWith(t testing.TB, o broker.Options) *Env {
	t.Helper()
	e := New(t, o)
	e.Broker.Start()
	return e
}

// New is StartWith without starting the broker: its streams are there to be
// read, but no pipeline, audit chain or HTTP API runs (benchmarks that load a
// store directly).
func New(t testing.TB, o broker.Options) *Env {
	t.Helper()
	if o.Config == nil {
		o.Config = demo.Config()
	}
	if o.Policies == nil {
		o.Policies = policies.FS
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.Embedded.Listen == "" {
		o.Embedded.Listen = "127.0.0.1:0"
	}
	if o.Embedded.StoreDir == "" && o.NATSURL == "" {
		o.Embedded.StoreDir = t.TempDir()
	}
	b, err := broker.New(context.Background(), o)
	if err != nil {
		t.Fatalf("starting broker: %v", err)
	}
	e := &Env{T: t, Broker: b, Config: o.Config, Base: b.HTTPURL(), Dir: o.Embedded.StoreDir}
	t.Cleanup(b.Close)
	return e
}

// Event builds a structured CloudEvent from participant from about child.
func Event(from, name, child string, data any) map[string]any {
	return map[string]any{"specversion": "1.0", "id": uuid.NewString(), "source": "/" + from,
		"type": "uk.gov.ecm." + name + ".v1", "subject": child, "time": time.Now().UTC().Format(time.RFC3339),
		"datacontenttype": "application/json", "data": data}
}

// Response is an HTTP answer.
type Response struct {
	Code int
	Body []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// Do sends a request with a bearer token.
func (e *Env) Do(method, path, token, contentType string, body []byte, headers ...string) Response {
	e.T.Helper()
	req, err := http.NewRequest(method, e.Base+path, bytes.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{resp.StatusCode, b}
}

// Publish posts one structured event as participant from.
func (e *Env) Publish(from string, ev map[string]any) Response {
	e.T.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		e.T.Fatal(err)
	}
	return e.Do("POST", "/v1/events", demo.Token(from), "application/cloudevents+json", b)
}

// MustPublish posts an event and fails the test unless it is accepted.
func (e *Env) MustPublish(from string, ev map[string]any) {
	e.T.Helper()
	if r := e.Publish(from, ev); r.Code != http.StatusAccepted {
		e.T.Fatalf("publishing %s as %s: %d %s", ev["type"], from, r.Code, r.Body)
	}
}

// Delivery is one delivered copy.
type Delivery struct {
	Seq   uint64         `json:"seq"`
	Basis string         `json:"basis"`
	Event map[string]any `json:"event"`
}

// Deliveries reads every delivery of a participant.
func (e *Env) Deliveries(participant string) []Delivery {
	e.T.Helper()
	var all []Delivery
	after := uint64(0)
	for {
		r := e.Do("GET", fmt.Sprintf("/v1/deliveries?after=%d&limit=1000", after), demo.Token(participant), "", nil)
		if r.Code != http.StatusOK {
			e.T.Fatalf("deliveries of %s: %d %s", participant, r.Code, r.Body)
		}
		var page struct {
			Deliveries []Delivery `json:"deliveries"`
			Next       uint64     `json:"next"`
		}
		r.JSON(e.T, &page)
		if len(page.Deliveries) == 0 {
			return all
		}
		all = append(all, page.Deliveries...)
		after = page.Next
	}
}

// Audit reads the audit records of a child, leaving out the access log's
// records of operators' reads (each call of Audit adds one: see
// broker/httpapi/accesslog.go); AuditWithReads keeps them.
func (e *Env) Audit(child string) []api.AuditRecord {
	e.T.Helper()
	var out []api.AuditRecord
	for _, rec := range e.AuditWithReads(child) {
		if rec.Action == nil || rec.Action.Kind != "read" {
			out = append(out, rec)
		}
	}
	return out
}

// AuditWithReads reads every audit record of a child.
func (e *Env) AuditWithReads(child string) []api.AuditRecord {
	e.T.Helper()
	r := e.Do("GET", "/v1/audit?child="+child, demo.OperatorToken, "", nil)
	if r.Code != http.StatusOK {
		e.T.Fatalf("audit: %d %s", r.Code, r.Body)
	}
	var out struct {
		Records []api.AuditRecord `json:"records"`
	}
	r.JSON(e.T, &out)
	return out.Records
}

// Decisions reads the records of a child's audit that decide (or refuse)
// an event: every record but the records of copies, which follow each
// decision once its copies are stored (docs/operations.md, "What a
// disclosure is").
func (e *Env) Decisions(child string) []api.AuditRecord {
	e.T.Helper()
	var out []api.AuditRecord
	for _, r := range e.Audit(child) {
		if r.Outcome != "copies" {
			out = append(out, r)
		}
	}
	return out
}

// DeadLetters reads every dead letter.
func (e *Env) DeadLetters() []api.DeadLetter {
	e.T.Helper()
	r := e.Do("GET", "/v1/deadletters?limit=1000", demo.OperatorToken, "", nil)
	if r.Code != http.StatusOK {
		e.T.Fatalf("deadletters: %d %s", r.Code, r.Body)
	}
	var out struct {
		DeadLetters []api.DeadLetter `json:"deadletters"`
	}
	r.JSON(e.T, &out)
	return out.DeadLetters
}

// WaitIdle waits until the broker has acknowledged every ingested event.
func (e *Env) WaitIdle() {
	e.T.Helper()
	WaitIdle(e.T, e.Broker.JetStream())
}

// WaitIdle waits until every event published so far has been sourced from
// its publisher's stream into ECM_INGEST and acknowledged by the broker
// (store.IngestPending).
func WaitIdle(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		n, err := store.IngestPending(ctx, js)
		if err == nil && n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("broker did not become idle (%d pending, %v): %v", n, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
