package ops_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/audit/chain"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ---- a broker for the tests of this package (test/testenv) ----

const opsToken = "ops-test-operator-token"

func opsConfig() *config.Config {
	c := &config.Config{Operators: []config.Operator{{Name: "ops", Token: opsToken, Roles: config.Roles}}}
	for _, area := range []string{"leeds", "york"} {
		for _, a := range []string{"la-social-care", "lea", "pct", "connexions", "yot", "police"} {
			id := area + "/" + a
			c.Participants = append(c.Participants, config.Participant{ID: id, Agency: a, Area: area, Token: "ops-test-token-" + strings.ReplaceAll(id, "/", "-")})
		}
	}
	if err := c.Check(); err != nil {
		panic(err)
	}
	return c
}

func tokenOf(id string) string { return "ops-test-token-" + strings.ReplaceAll(id, "/", "-") }

// startOpsBroker runs a broker (test/testenv) with cfg (opsConfig when nil)
// on a fresh store (or dir) until the test ends.
func startOpsBroker(t testing.TB, cfg *config.Config, dir string) *broker.Broker {
	t.Helper()
	return testenv.StartWith(t, opsOptions(cfg, dir)).Broker
}

// newOpsBroker is a broker that is not started: no pipeline, no HTTP, no
// audit chain; its streams are there to be read (benchmarks).
func newOpsBroker(t testing.TB, cfg *config.Config, dir string) *broker.Broker {
	t.Helper()
	return testenv.New(t, opsOptions(cfg, dir)).Broker
}

func opsOptions(cfg *config.Config, dir string) broker.Options {
	if cfg == nil {
		cfg = opsConfig()
	}
	return broker.Options{Config: cfg, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}}
}

func testEvent(from, name, child string, data map[string]any) map[string]any {
	return map[string]any{"specversion": "1.0", "id": uuid.NewString(), "source": "/" + from,
		"type": "uk.gov.ecm." + name + ".v1", "subject": child, "time": time.Now().UTC().Format(time.RFC3339),
		"datacontenttype": "application/json", "data": data}
}

func httpDo(t testing.TB, b *broker.Broker, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	ct := "application/json"
	switch v := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case map[string]any:
		if _, ok := v["specversion"]; ok {
			ct = "application/cloudevents+json"
		}
		bs, _ := json.Marshal(v)
		rd = bytes.NewReader(bs)
	default:
		bs, _ := json.Marshal(v)
		rd = bytes.NewReader(bs)
	}
	req, _ := http.NewRequest(method, "http://"+b.HTTPAddr()+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

func mustPublish(t testing.TB, b *broker.Broker, from string, ev map[string]any) {
	t.Helper()
	if code, body := httpDo(t, b, "POST", "/v1/events", tokenOf(from), ev); code != http.StatusAccepted {
		t.Fatalf("publishing %s: %d %s", ev["type"], code, body)
	}
}

// ndjsonResult reads the result line of a streamed answer.
func ndjsonResult(t testing.TB, body []byte, v any) {
	t.Helper()
	for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		var l struct {
			Result json.RawMessage `json:"result"`
			Error  string          `json:"error"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		if l.Error != "" {
			t.Fatalf("error: %s", l.Error)
		}
		if l.Result != nil {
			if err := json.Unmarshal(l.Result, v); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no result in %s", body)
}

// waitIdle waits until every ingest consumer has nothing pending.
func waitIdle(t testing.TB, b *broker.Broker) {
	t.Helper()
	testenv.WaitIdle(t, b.JetStream())
}

// Children of these tests (valid check digits).
const (
	amy = "9434765919" // 4
	ben = "9434765870" // 14
	cal = "4010232137" // 16
)

// history publishes a small known history for three children.
func history(t testing.TB, b *broker.Broker) {
	t.Helper()
	contact := map[string]any{"phone": "0113 496 0001"}
	addr := map[string]any{"lines": []any{"1 Park Row", "Leeds"}, "postcode": "LS1 5HD"}
	steps := []struct {
		from, name, child string
		data              map[string]any
	}{
		{"leeds/pct", "index.child.registered", amy, map[string]any{"name": map[string]any{"given": "Amy", "family": "Adams"},
			"dob": time.Now().AddDate(-4, -2, 0).Format("2006-01-02"), "gender": "female", "address": addr, "area": "leeds"}},
		{"leeds/pct", "index.practitioner.involved", amy, map[string]any{"practitioner": map[string]any{"name": "Hana Visitor",
			"role": "health visitor", "contact": contact}, "service": "health visiting"}},
		{"leeds/police", "police.incident", amy, map[string]any{"kind": "domestic_abuse", "occurred_at": "2026-01-20T22:10:00Z",
			"child_present": true, "summary": "Officers attended."}},
		{"leeds/lea", "index.child.registered", ben, map[string]any{"name": map[string]any{"given": "Ben", "family": "Brown"},
			"dob": time.Now().AddDate(-14, -2, 0).Format("2006-01-02"), "gender": "male", "address": addr, "area": "leeds"}},
		{"leeds/lea", "consent.granted", ben, map[string]any{"given_by": "child", "purposes": []any{"caf"}, "agencies": []any{"pct", "la-social-care"}}},
		{"leeds/lea", "caf.completed", ben, map[string]any{"needs": []any{map[string]any{"outcome": "be_healthy", "summary": "Asthma."}},
			"lead_professional": map[string]any{"name": "Sam Tutor", "contact": contact}}},
		{"leeds/lea", "safeguarding.referral", cal, map[string]any{"category": "neglect", "summary": "No coat.", "significant_harm": true}},
	}
	for _, s := range steps {
		mustPublish(t, b, s.from, testEvent(s.from, s.name, s.child, s.data))
	}
	waitIdle(t, b)
	// Every event's decision is in the audit before the tests read it (idle
	// consumers are the usual sign; this makes sure under a loaded machine).
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, child := range []string{amy, ben, cal} {
			recs, err := b.AuditLog().Child(context.Background(), b.ChildKey(child))
			if err != nil {
				t.Fatal(err)
			}
			n += len(recs)
		}
		if n >= len(steps) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit holds %d records of the %d events published", n, len(steps))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditMessages reads every message of an audit stream.
func auditMessages(t testing.TB, b *broker.Broker, stream string) []chain.Msg {
	t.Helper()
	var out []chain.Msg
	err := store.Scan(context.Background(), b.JetStream(), stream, store.ScanOpts{}, func(m store.Msg) error {
		out = append(out, chain.Msg{Seq: m.Seq, Subject: m.Subject, Header: m.Header, Data: m.Data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verify(b *broker.Broker, msgs []chain.Msg) api.VerifyReport {
	v := chain.NewVerifier("copy", b.TrustedKeys())
	for _, m := range msgs {
		v.Add(m)
	}
	return v.Report()
}

// ---- the tests ----

// The chain of a real run verifies; every kind of tampering with a copy is
// found, at the record it happened.
func TestAuditChainTamper(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	if err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := auditMessages(t, b, wire.StreamAudit)
	if rep := verify(b, msgs); !rep.OK || rep.Records < 7 || rep.Checkpoints != 1 || rep.Unchained != 0 {
		t.Fatalf("untouched audit: %+v", rep)
	}
	// Two records of one chain (the same child's records share a chain).
	var recs []int
	var amys string
	for _, m := range msgs {
		var l api.ChainLink
		_ = json.Unmarshal(m.Data, &l)
		if l.Chain != "" && strings.Contains(string(m.Data), b.ChildKey(amy)) {
			amys = l.Chain
			break
		}
	}
	for i, m := range msgs {
		var l api.ChainLink
		_ = json.Unmarshal(m.Data, &l)
		if l.Chain == amys {
			recs = append(recs, i)
		}
	}
	if len(recs) < 3 {
		t.Fatalf("want at least 3 records of Amy's chain, got %d", len(recs))
	}
	first, mid, last := recs[0], recs[1], recs[len(recs)-1]
	cp := len(msgs) - 1
	clone := func() []chain.Msg {
		out := make([]chain.Msg, len(msgs))
		for i, m := range msgs {
			out[i] = m
			out[i].Data = append([]byte(nil), m.Data...)
		}
		return out
	}
	without := func(ms []chain.Msg, i int) []chain.Msg { return append(ms[:i:i], ms[i+1:]...) }
	edit := func(ms []chain.Msg, i int) []chain.Msg {
		ms[i].Data = bytes.Replace(ms[i].Data, []byte(`"allow":true`), []byte(`"allow":false`), 1)
		if bytes.Equal(ms[i].Data, msgs[i].Data) {
			ms[i].Data = bytes.Replace(ms[i].Data, []byte(`"allow":false`), []byte(`"allow":true`), 1)
		}
		if bytes.Equal(ms[i].Data, msgs[i].Data) { // a record of copies
			ms[i].Data = bytes.Replace(ms[i].Data, []byte(`"status":"delivered"`), []byte(`"status":"refused"`), 1)
		}
		return ms
	}
	tests := []struct {
		name    string
		tamper  func([]chain.Msg) []chain.Msg
		wantSeq uint64 // where the first break is reported
		want    string
	}{
		{"edit a record", func(ms []chain.Msg) []chain.Msg { return edit(ms, first) }, msgs[mid].Seq, "does not link"},
		{"edit the newest record", func(ms []chain.Msg) []chain.Msg { return edit(ms, last) }, msgs[cp].Seq, "not the record signed"},
		{"delete a record", func(ms []chain.Msg) []chain.Msg { return without(ms, mid) }, msgs[recs[2]].Seq, "missing"},
		{"delete the first record", func(ms []chain.Msg) []chain.Msg { return without(ms, first) }, msgs[mid].Seq, "begins at index 2"},
		{"delete the newest record", func(ms []chain.Msg) []chain.Msg { return without(ms, last) }, msgs[cp].Seq, "records removed"},
		{"reorder two records", func(ms []chain.Msg) []chain.Msg {
			ms[first].Data, ms[mid].Data = ms[mid].Data, ms[first].Data
			return ms
		}, msgs[first].Seq, "begins at index 2"},
		{"copy a record again", func(ms []chain.Msg) []chain.Msg {
			dup := ms[first]
			dup.Seq = ms[cp].Seq + 1
			return append(ms, dup)
		}, msgs[cp].Seq + 1, "moved or copied"},
		{"strip a link", func(ms []chain.Msg) []chain.Msg {
			var r map[string]any
			_ = json.Unmarshal(ms[mid].Data, &r)
			delete(r, "chain")
			delete(r, "chain_index")
			delete(r, "prev_hash")
			ms[mid].Data, _ = json.Marshal(r)
			return ms
		}, msgs[mid].Seq, "no chain link"},
		{"forge the checkpoint", func(ms []chain.Msg) []chain.Msg {
			ms[cp].Data = bytes.Replace(ms[cp].Data, []byte(`"index":`), []byte(`"index":1`), 1)
			return ms
		}, msgs[cp].Seq, "signature does not match"},
		{"sign with another key", func(ms []chain.Msg) []chain.Msg {
			var c api.Checkpoint
			_ = json.Unmarshal(ms[cp].Data, &c)
			ms[cp] = signed(t, mustKey(t), c, ms[cp])
			return ms
		}, msgs[cp].Seq, "not trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verify(b, tt.tamper(clone()))
			if rep.OK || rep.FirstBreak == nil {
				t.Fatalf("not detected: %+v", rep)
			}
			if rep.FirstBreak.Seq != tt.wantSeq || !strings.Contains(rep.FirstBreak.Problem, tt.want) {
				t.Errorf("first break %+v, want at seq %d: %q", rep.FirstBreak, tt.wantSeq, tt.want)
			}
		})
	}
}

func mustKey(t testing.TB) ed25519.PrivateKey {
	k, err := config.ParseSigningKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signed is m carrying checkpoint cp signed with key, as an instance holding
// that key would write it.
func signed(t testing.TB, key ed25519.PrivateKey, cp api.Checkpoint, m chain.Msg) chain.Msg {
	cp.Key = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	body, _ := json.Marshal(cp)
	m.Data = body
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = append([]string(nil), v...)
	}
	h.Set(wire.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)))
	m.Header = h
	return m
}

func auditWait(ctx context.Context, b *broker.Broker, rec api.AuditRecord) error {
	f, err := b.AuditWriter().Decision(rec)
	if err != nil {
		return err
	}
	return audit.Await(ctx, f)
}

// Records written concurrently by many goroutines, some of them again (as
// after a crash: JetStream drops the copy), form chains that verify; after a
// failed publish the chain is closed and a new one begun, and the whole
// still verifies.
func TestAuditChainConcurrentAndDuplicates(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fs []jetstream.PubAckFuture
			for i := 0; i < 60; i++ {
				rec := api.AuditRecord{EventID: fmt.Sprintf("e-%d-%d", g, i%40), Source: "/leeds/pct", Type: "t", ChildKey: fmt.Sprintf("child%02d", (g*7+i)%23),
					Outcome: "decided", Decisions: []api.Decision{}}
				f, err := b.AuditWriter().Decision(rec) // i >= 40 repeats an id: a duplicate
				if err != nil {
					errs <- err
					return
				}
				fs = append(fs, f)
			}
			if err := audit.Await(ctx, fs...); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A publish that fails: the audit stream refuses records for a moment.
	s, _ := b.JetStream().Stream(ctx, wire.StreamAudit)
	cfg := s.CachedInfo().Config
	small := cfg
	small.MaxMsgSize = 64
	if _, err := b.JetStream().UpdateStream(ctx, small); err != nil {
		t.Fatal(err)
	}
	if err := auditWait(ctx, b, api.AuditRecord{EventID: "refused", Source: "/leeds/pct", ChildKey: "child01", Decisions: []api.Decision{}}); err == nil {
		t.Fatal("the audit stream accepted an oversize record")
	}
	if _, err := b.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := auditWait(ctx, b, api.AuditRecord{EventID: "after", Source: "/leeds/pct", ChildKey: "child01", Decisions: []api.Decision{}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := auditMessages(t, b, wire.StreamAudit)
	rep := verify(b, msgs)
	// 16×40 records, the one after the refusal, and the policy's activation
	// at start (broker/govern).
	if !rep.OK || rep.Records != 16*40+2 {
		t.Fatalf("report %+v (want %d records)", rep, 16*40+2)
	}
	reopened := false
	for _, m := range msgs {
		var l api.ChainLink
		_ = json.Unmarshal(m.Data, &l)
		reopened = reopened || strings.HasSuffix(l.Chain, ".1") && l.ChainIndex == 1
	}
	if !reopened || rep.Chains > 64+1 {
		t.Errorf("%d chains; want one per slot used and one begun after the failure", rep.Chains)
	}
}

// GET /v1/audit/verify walks the stream, and a copy of it.
func TestAuditVerifyEndpoint(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	if err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body := httpDo(t, b, "GET", "/v1/audit/verify", opsToken, nil)
	var rep api.VerifyReport
	ndjsonResult(t, body, &rep)
	if code != 200 || !rep.OK || rep.Records == 0 {
		t.Fatalf("%d %+v", code, rep)
	}
	if code, _ := httpDo(t, b, "GET", "/v1/audit/verify", tokenOf("leeds/pct"), nil); code != http.StatusUnauthorized {
		t.Errorf("participant token: %d", code)
	}
	if code, _ := httpDo(t, b, "GET", "/v1/audit/verify?stream=ECM_INGEST", opsToken, nil); code != http.StatusBadRequest {
		t.Errorf("verifying another stream: %d", code)
	}
}
