package e2e

// Damage is visible (issue 11, section 6): a byte changed in an audit block
// on disk shows on /readyz and in the metrics, and a subject access report
// answers at once with the gap named; heads kept outside the broker find a
// cut tail; the demo run twice on one store adds nothing the second time.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
)

// degradedReadiness is /readyz with the degraded flag.
type degradedReadiness struct {
	Ready    bool              `json:"ready"`
	Degraded bool              `json:"degraded"`
	Checks   map[string]string `json:"checks"`
}

func readyzDegraded(t *testing.T, env *testenv.Env) (int, degradedReadiness) {
	t.Helper()
	r := env.Do("GET", "/readyz", "", "", nil)
	var out degradedReadiness
	r.JSON(t, &out)
	return r.Code, out
}

// metric is the value of a series without labels, as /metrics gives it.
func metric(t *testing.T, env *testenv.Env, name string) string {
	t.Helper()
	r := env.Do("GET", "/metrics", demo.OperatorToken, "", nil) // an operator's token (docs/security.md)
	for _, l := range strings.Split(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	t.Fatalf("no series %s in /metrics", name)
	return ""
}

// A byte flipped in one audit record on disk: JetStream drops the record on
// restart without a word. The broker's own verification finds it (/readyz
// degraded but still ready, ecm_audit_chain_broken 1), and the child's
// subject access report and disclosures answer at once, naming the missing
// decision record, instead of a 503 after 20 s.
func TestDamagedAuditIsVisible(t *testing.T) {
	dir := t.TempDir()
	open := func() *testenv.Env {
		return testenv.StartWith(t, broker.Options{Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
	}
	env := open()
	amy := demo.Children["Amy (4)"]
	var firstID string
	for _, s := range demo.Steps() {
		ev := testenv.Event(s.From, s.Name, demo.Children[s.Child], s.Data)
		if s.Override != "" {
			ev["override"] = s.Override
		}
		if firstID == "" && s.Child == "Amy (4)" {
			firstID = ev["id"].(string)
		}
		env.MustPublish(s.From, ev)
	}
	env.WaitIdle()
	ctx := context.Background()
	if st := env.Broker.AuditMonitor().Check(ctx); st.State != "whole" {
		t.Fatalf("untouched audit: %+v", st)
	}
	if code, r := readyzDegraded(t, env); code != http.StatusOK || !r.Ready || r.Degraded || !strings.HasPrefix(r.Checks["audit_chain"], "whole") {
		t.Fatalf("untouched audit: /readyz %d %+v", code, r)
	}
	if v := metric(t, env, "ecm_audit_verify_last_success_timestamp_seconds"); v == "0" {
		t.Errorf("ecm_audit_verify_last_success_timestamp_seconds %s after a check that found the chain whole", v)
	}
	key := env.Broker.ChildKey(amy)
	env.Broker.Close()

	// Change one byte inside Amy's first audit record (its first decision).
	blocks, _ := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", wire.StreamAudit, "msgs", "*.blk"))
	if len(blocks) == 0 {
		t.Fatal("no block of the audit stream on disk")
	}
	damaged := false
	for _, name := range blocks {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, []byte(`"child_key":"`+key+`"`)); i >= 0 && !damaged {
			data[i+1] = 'C' // "Child_key": still JSON, no longer the bytes stored
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
			damaged = true
		}
	}
	if !damaged {
		t.Fatal("no record of Amy's in the audit blocks")
	}

	env = open()
	if st := env.Broker.AuditMonitor().Check(ctx); st.State != "broken" || st.FirstBreak == nil {
		t.Fatalf("damaged audit: background check found %+v", st)
	}
	code, r := readyzDegraded(t, env)
	if code != http.StatusOK || !r.Ready || !r.Degraded || !strings.HasPrefix(r.Checks["audit_chain"], "broken") ||
		!strings.Contains(r.Checks["audit_chain"], "missing") {
		t.Errorf("damaged audit: /readyz %d %+v", code, r)
	}
	if v := metric(t, env, "ecm_audit_chain_broken"); v != "1" {
		t.Errorf("ecm_audit_chain_broken %s, want 1", v)
	}
	if v := metric(t, env, "ecm_audit_chain_problems"); v == "0" {
		t.Errorf("ecm_audit_chain_problems %s", v)
	}

	start := time.Now()
	sr := env.Do("GET", "/v1/sar?child="+amy, demo.OperatorToken, "", nil)
	took := time.Since(start)
	var sa api.SubjectAccess
	if sr.Code != http.StatusOK {
		t.Fatalf("subject access after %v: %d %s", took, sr.Code, sr.Body)
	}
	sr.JSON(t, &sa)
	if took > 5*time.Second {
		t.Errorf("subject access took %v", took)
	}
	gaps := strings.Join(sa.Gaps, "\n")
	// (The store may also say, on the first read only, that it counted a
	// record it could not return: "could not be read".)
	for _, want := range []string{"event " + firstID, "decision record is missing", "not as written"} {
		if !strings.Contains(gaps, want) {
			t.Errorf("gaps do not say %q:\n%s", want, gaps)
		}
	}
	if len(sa.Events) == 0 || len(sa.Decisions) == 0 {
		t.Errorf("the report holds %d events and %d decisions: what the store still has must be in it", len(sa.Events), len(sa.Decisions))
	}

	start = time.Now()
	dr := env.Do("GET", "/v1/disclosures?child="+amy, demo.Token("leeds/pct"), "", nil)
	var disc struct {
		Events []api.EventDisclosures `json:"events"`
		Gaps   []string               `json:"gaps"`
	}
	if dr.Code != http.StatusOK || time.Since(start) > 5*time.Second {
		t.Fatalf("disclosures after %v: %d %s", time.Since(start), dr.Code, dr.Body)
	}
	dr.JSON(t, &disc)
	if !strings.Contains(strings.Join(disc.Gaps, "\n"), "not as written") {
		t.Errorf("disclosures name no gap: %s", dr.Body)
	}

	// ecmctl ends the report with the gaps and warns.
	out, errOut, code := cli(t, env, demo.OperatorToken, "sar", "--child", amy)
	if code != 0 || !strings.Contains(out, "INCOMPLETE: the broker cannot show everything") ||
		!strings.Contains(out, "decision record is missing") || !strings.Contains(errOut, "incomplete") {
		t.Errorf("ecmctl sar: exit %d\n%s\n%s", code, out, errOut)
	}

	// An operator's full verification says the same.
	var rep api.VerifyReport
	vr := env.Do("GET", "/v1/audit/verify", demo.OperatorToken, "", nil)
	for _, line := range bytes.Split(bytes.TrimSpace(vr.Body), []byte("\n")) {
		var l struct {
			Result *api.VerifyReport `json:"result"`
		}
		if json.Unmarshal(line, &l) == nil && l.Result != nil {
			rep = *l.Result
		}
	}
	if rep.OK || rep.BreakCount == 0 {
		t.Errorf("verification of the damaged audit: %s", vr.Body)
	}
}

// Heads saved outside the broker (ecmctl audit verify --save-heads) find a
// tail cut from a chain together with the checkpoint that named it, which
// the copy alone does not show (--expect-head).
func TestAuditVerifyExpectHead(t *testing.T) {
	env := runDemo(t)
	if err := env.Broker.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	heads := filepath.Join(t.TempDir(), "heads.json")
	out, errOut, code := cli(t, env, demo.OperatorToken, "audit", "verify", "--save-heads", heads)
	if code != 0 || !strings.Contains(errOut, "saved") {
		t.Fatalf("--save-heads: %d\n%s%s", code, out, errOut)
	}
	var saved api.AuditHeads
	if data, err := os.ReadFile(heads); err != nil || json.Unmarshal(data, &saved) != nil || len(saved.Heads) == 0 {
		t.Fatalf("heads file: %v %+v", err, saved)
	}
	if out, errOut, code := cli(t, env, demo.OperatorToken, "audit", "verify", "--expect-head", heads); code != 0 || !strings.Contains(out, "still reaches") {
		t.Fatalf("--expect-head on the audit as saved: %d\n%s%s", code, out, errOut)
	}

	// A copy without the newest record of one chain and without the
	// checkpoint that named it.
	msgs := auditMsgs(t, env.Broker.JetStream())
	recs := chainRecords(msgs)
	newest := recs[len(recs)-1]
	var cut []*nats.Msg
	for i, m := range msgs {
		if i != newest && m.Subject != wire.AuditCheckpointSubject {
			cut = append(cut, m)
		}
	}
	copyAudit(t, env.Broker.JetStream(), "ECM_AUDIT_CUT", cut)
	if out, errOut, code := cli(t, env, demo.OperatorToken, "audit", "verify", "--stream", "ECM_AUDIT_CUT"); code != 0 {
		t.Fatalf("the cut copy without saved heads was expected to pass (the documented limit): %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, env, demo.OperatorToken, "audit", "verify", "--stream", "ECM_AUDIT_CUT", "--expect-head", heads)
	if code != 1 || !strings.Contains(errOut, "a cut tail") || !strings.Contains(out, "BROKEN") {
		t.Errorf("the cut copy with saved heads: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// demoRecord is what a store holds after the demo: every participant's
// deliveries, the dead letters, every audit record of the demo's children,
// the events in ECM_INGEST.
type demoRecord struct {
	deliveries  map[string]int
	deadLetters int
	audit       map[string]int
	rejected    int
	ingest      uint64
}

func demoRecordOf(t *testing.T, env *testenv.Env) demoRecord {
	t.Helper()
	env.WaitIdle()
	r := demoRecord{deliveries: map[string]int{}, audit: map[string]int{}, deadLetters: len(env.DeadLetters())}
	for _, p := range env.Config.Participants {
		r.deliveries[p.ID] = len(env.Deliveries(p.ID))
	}
	for name, u := range demo.Children {
		recs := env.Audit(u)
		r.audit[name] = len(recs)
		for _, rec := range recs {
			if rec.Outcome == "rejected" {
				r.rejected++
			}
		}
	}
	s, err := env.Broker.JetStream().Stream(context.Background(), wire.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.ingest = info.State.Msgs
	return r
}

// The demo run twice on one store (go run ./cmd/ecm-broker --demo, twice
// with the same --data) works the second time and adds nothing to any
// record: its events are the same events, recognised as already published;
// no 409, no dead letter, no "rejected" audit record, no second copy. Also
// after JetStream's duplicate window, when the server no longer knows the
// ids (here a window of one second): the child's record does.
func TestDemoRunsTwice(t *testing.T) {
	for _, tt := range []struct {
		name   string
		window time.Duration
	}{
		{"within the duplicate window", 0},
		{"after the duplicate window", time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := demo.Config()
			if tt.window > 0 {
				cfg.Duplicates = tt.window // below the configurable minimum, to test without waiting a day
			}
			env := testenv.StartWith(t, broker.Options{Config: cfg})
			ctx := context.Background()
			var first, second bytes.Buffer
			if err := demo.Run(ctx, &first, env.Broker, cfg); err != nil {
				t.Fatalf("first run: %v\n%s", err, first.String())
			}
			before := demoRecordOf(t, env)
			if before.deadLetters != 0 || before.rejected != 0 {
				t.Fatalf("the first run left %d dead letters and %d rejected records", before.deadLetters, before.rejected)
			}
			time.Sleep(tt.window + tt.window/2)
			if err := demo.Run(ctx, &second, env.Broker, cfg); err != nil {
				t.Fatalf("second run: %v\n%s", err, second.String())
			}
			after := demoRecordOf(t, env)
			if !reflect.DeepEqual(before, after) {
				t.Errorf("the second run changed the record:\nbefore %+v\nafter  %+v", before, after)
			}
			for _, want := range []string{"already published to this store", "recorded nothing new", "nothing new: these exports were published"} {
				if !strings.Contains(second.String(), want) {
					t.Errorf("the second run does not say %q:\n%s", want, second.String())
				}
			}
			if strings.Contains(second.String(), "generated by the broker: index.practitioner.involved from leeds/connexions") {
				t.Errorf("an adapter's event is labelled as generated by the broker:\n%s", second.String())
			}
		})
	}
}

// After JetStream's duplicate window an event sent again is still stored
// once: the same event is a duplicate (HTTP 202 "duplicate"; over NATS the
// second copy is removed from the ingest stream and nothing is decided
// again), and other content under the same id is refused as within the
// window (HTTP 409; over NATS a dead letter), never a second decision.
func TestResentAfterTheDuplicateWindow(t *testing.T) {
	cfg := demo.Config()
	cfg.Duplicates = time.Second
	env := testenv.StartWith(t, broker.Options{Config: cfg})
	ben := demo.Children["Ben (14)"]
	referral := func(summary string) map[string]any {
		return map[string]any{"category": "neglect", "summary": summary, "significant_harm": false}
	}
	httpEv := testenv.Event("leeds/lea", "safeguarding.referral", ben, referral("No food at home."))
	natsEv := testenv.Event("leeds/lea", "safeguarding.referral", ben, referral("No coat in winter."))
	js := env.Broker.JetStream()
	overNATS := func(ev map[string]any) {
		b, _ := json.Marshal(ev)
		m := nats.NewMsg(wire.IngestSubject("leeds/lea", ben))
		m.Header.Set("content-type", "application/cloudevents+json")
		m.Header.Set("Nats-Msg-Id", ev["source"].(string)+"#"+ev["id"].(string))
		m.Data = b
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	env.MustPublish("leeds/lea", httpEv)
	overNATS(natsEv)
	before := demoRecordOf(t, env)
	time.Sleep(1500 * time.Millisecond)

	r := env.Publish("leeds/lea", httpEv)
	var res api.IngestResult
	r.JSON(t, &res)
	if r.Code != http.StatusAccepted || res.Outcome != "duplicate" {
		t.Errorf("the same event again over HTTP: %d %s", r.Code, r.Body)
	}
	overNATS(natsEv)
	if after := demoRecordOf(t, env); !reflect.DeepEqual(before, after) {
		t.Errorf("the same events sent again changed the record:\nbefore %+v\nafter  %+v", before, after)
	}

	changed := map[string]any{}
	for k, v := range httpEv {
		changed[k] = v
	}
	changed["data"] = referral("Something else.")
	if r := env.Publish("leeds/lea", changed); r.Code != http.StatusConflict {
		t.Errorf("other content under a used id over HTTP: %d %s", r.Code, r.Body)
	}
	changedNATS := map[string]any{}
	for k, v := range natsEv {
		changedNATS[k] = v
	}
	changedNATS["data"] = referral("Something else again.")
	time.Sleep(1500 * time.Millisecond) // the copy sent again above opened a new window for its id
	overNATS(changedNATS)
	after := demoRecordOf(t, env)
	if after.deadLetters != before.deadLetters+2 || after.ingest != before.ingest || !reflect.DeepEqual(after.deliveries, before.deliveries) {
		t.Errorf("other content under used ids: want two dead letters and nothing else stored:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, dl := range env.DeadLetters() {
		if !strings.Contains(strings.Join(dl.Reasons, " "), "already used") {
			t.Errorf("dead letter %+v", dl.Reasons)
		}
	}
}
