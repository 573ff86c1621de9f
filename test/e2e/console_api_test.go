package e2e

// The console's endpoints (api/govern.go, broker/httpapi/console_api.go) over
// HTTP against the real broker: what-if, dead-letter triage, the reviewed
// subject-access report and the operations overview.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// lastSeqs are the last sequences of the streams a what-if must not touch.
func lastSeqs(t *testing.T, env *testenv.Env) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, name := range []string{wire.StreamIngest, wire.StreamDelivery, wire.StreamDeadLetter, "KV_" + wire.BucketChildren} {
		s, err := env.Broker.JetStream().Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out[name] = info.State.LastSeq
	}
	return out
}

func decisionOf(ex api.Explanation, participant string) *api.Decision {
	for i := range ex.Decisions {
		if ex.Decisions[i].Participant == participant {
			return &ex.Decisions[i]
		}
	}
	return nil
}

// What-if decides against the state given, not the child's own: Ben's
// consent to share CAFs with health was withdrawn, but a what-if with the
// consent granted shows health receiving it, and one without shows it
// refused. Nothing is stored or published, the child's audit shows no read,
// and the access log has the what-if on _ops.
func TestConsoleWhatIf(t *testing.T) {
	env := startRoles(t, broker.Options{})
	ben := demo.Children["Ben (14)"]
	reader := roleTokens["reader"]
	caf := testenv.Event("leeds/lea", "caf.completed", ben, map[string]any{
		"needs":             []any{map[string]any{"outcome": "be_healthy", "summary": "A hypothetical need."}},
		"lead_professional": map[string]any{"name": "Sam Tutor", "role": "learning mentor", "contact": map[string]any{"phone": "0113 496 0050"}}})
	index := &api.IndexRecord{Area: "leeds", DOB: "2012-06-01"}
	granted := &api.Consent{Entries: []api.ConsentEntry{{Seq: 1, Kind: "granted", At: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		By: "leeds/lea", GivenBy: "child", Purposes: []any{"caf"}, Agencies: []any{"pct"}}}}

	readsBefore := len(env.AuditWithReads(ben))
	before := lastSeqs(t, env)
	whatIf := func(c *api.Consent) api.Explanation {
		t.Helper()
		r := env.Do("POST", "/v1/whatif", reader, "application/json", jsonBody(t, api.WhatIfRequest{Event: jsonBody(t, caf), Child: index, Consent: c}))
		if r.Code != http.StatusOK {
			t.Fatalf("whatif: %d %s", r.Code, r.Body)
		}
		var ex api.Explanation
		r.JSON(t, &ex)
		return ex
	}
	with, without := whatIf(granted), whatIf(nil)
	if d := decisionOf(with, "leeds/pct"); d == nil || !d.Allow || d.Basis != "consent" {
		t.Errorf("with consent granted, leeds/pct: %+v (all: %+v)", d, with.Decisions)
	}
	if d := decisionOf(without, "leeds/pct"); d != nil && d.Allow {
		t.Errorf("without consent, leeds/pct is allowed: %+v", d)
	}
	if !with.ChildKnown || with.PolicyRevision == "" || with.EventID != caf["id"] {
		t.Errorf("explanation %+v", with)
	}
	// No child given: a child the broker does not know.
	r := env.Do("POST", "/v1/whatif", reader, "application/json", jsonBody(t, api.WhatIfRequest{Event: jsonBody(t, caf)}))
	var unknown api.Explanation
	if r.Code != http.StatusOK {
		t.Fatalf("whatif without a child: %d %s", r.Code, r.Body)
	}
	r.JSON(t, &unknown)
	if unknown.ChildKnown {
		t.Errorf("whatif without a child says the child is known: %+v", unknown)
	}
	env.WaitIdle()
	if after := lastSeqs(t, env); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a what-if changed the streams: before %v, after %v", before, after)
	}
	// The audit call before added one read; the what-ifs none.
	if reads := len(env.AuditWithReads(ben)); reads != readsBefore+1 {
		t.Errorf("Ben's audit has %d records after the what-ifs, want %d (a what-if is not a read of the child)", reads, readsBefore+1)
	}
	for _, rec := range env.Audit(ben) {
		if rec.EventID == caf["id"] {
			t.Errorf("the what-if event is in Ben's audit: %+v", rec)
		}
	}
	opsRecs, err := env.Broker.AuditLog().Child(t.Context(), "_ops")
	if err != nil {
		t.Fatal(err)
	}
	whatIfs := 0
	for _, rec := range opsRecs {
		if rec.Action != nil && rec.Action.Kind == "what-if" && rec.Action.By == "reader" && rec.Action.Read == "POST /v1/whatif" {
			whatIfs++
			if raw, _ := json.Marshal(rec); bytes.Contains(raw, []byte(ben)) || bytes.Contains(raw, []byte("hypothetical")) {
				t.Errorf("the what-if's access record holds what was asked: %s", raw)
			}
		}
	}
	if whatIfs != 3 {
		t.Errorf("%d what-if records on _ops, want 3", whatIfs)
	}

	// An invalid event: 400 with the problems, as POST /v1/decide.
	bad := testenv.Event("leeds/lea", "caf.completed", "1234567890", map[string]any{})
	r = env.Do("POST", "/v1/whatif", reader, "application/json", jsonBody(t, api.WhatIfRequest{Event: jsonBody(t, bad)}))
	var probs struct {
		Problems []api.Problem `json:"problems"`
	}
	if r.Code != http.StatusBadRequest {
		t.Fatalf("invalid what-if: %d %s", r.Code, r.Body)
	}
	r.JSON(t, &probs)
	if len(probs.Problems) == 0 || !strings.Contains(string(r.Body), "subject") {
		t.Errorf("invalid what-if: problems %+v", probs.Problems)
	}
	// A child state about another child than the event's.
	other := &api.IndexRecord{UIN: demo.Children["Amy (4)"], Area: "leeds"}
	if r := env.Do("POST", "/v1/whatif", reader, "application/json", jsonBody(t, api.WhatIfRequest{Event: jsonBody(t, caf), Child: other})); r.Code != http.StatusBadRequest {
		t.Errorf("what-if with another child's UIN: %d %s", r.Code, r.Body)
	}
	// Participants cannot ask.
	if r := env.Do("POST", "/v1/whatif", demo.Token("leeds/lea"), "application/json", jsonBody(t, api.WhatIfRequest{Event: jsonBody(t, caf)})); r.Code != http.StatusUnauthorized {
		t.Errorf("participant what-if: %d", r.Code)
	}
}

// deadLetterSeqs are the sequences of the dead letters GET /v1/deadletters
// lists (open: only those not dealt with), by token.
func deadLetterPage(t *testing.T, env *testenv.Env, token string, open bool) []api.DeadLetter {
	t.Helper()
	path := "/v1/deadletters?limit=1000"
	if open {
		path += "&open=true"
	}
	r := env.Do("GET", path, token, "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", path, r.Code, r.Body)
	}
	var page api.DeadLetterPage
	r.JSON(t, &page)
	return page.DeadLetters
}

// rejectedSeq publishes ev (which must be refused) and returns its dead
// letter's sequence.
func rejectedSeq(t *testing.T, env *testenv.Env, from string, ev map[string]any) uint64 {
	t.Helper()
	if r := env.Publish(from, ev); r.Code == http.StatusAccepted {
		t.Fatalf("accepted: %s", r.Body)
	}
	dls := env.DeadLetters()
	for i := len(dls) - 1; i >= 0; i-- {
		if bytes.Contains(dls[i].Body, []byte(ev["id"].(string))) {
			return dls[i].Seq
		}
	}
	t.Fatalf("no dead letter of event %s", ev["id"])
	return 0
}

// copiesOf counts the copies of event id each participant holds.
func copiesOf(env *testenv.Env, id string) map[string]int {
	out := map[string]int{}
	for _, p := range env.Config.Participants {
		for _, d := range env.Deliveries(p.ID) {
			if d.Event["id"] == id {
				out[p.ID]++
			}
		}
	}
	return out
}

// Dead-letter triage: only the replay role resolves or resubmits; a
// resubmitted body still wrong is refused with its problems and nothing is
// published; a corrected body is delivered to its recipients once, however
// often it is resubmitted; the list shows what was done and ?open=true
// what was not; the overview counts what is open; erasing the child erases
// the notes on its dead letters.
func TestConsoleDeadLetterTriage(t *testing.T) {
	env := startRoles(t, broker.Options{})
	amy, ben := demo.Children["Amy (4)"], demo.Children["Ben (14)"]
	replayer, reader := roleTokens["replayer"], roleTokens["reader"]

	// A police incident about Amy sent with a time two days ahead: refused.
	good := testenv.Event("leeds/police", "police.incident", amy, map[string]any{
		"kind": "domestic_abuse", "occurred_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "child_present": true,
		"summary": "A resubmitted incident."})
	future := map[string]any{}
	for k, v := range good {
		future[k] = v
	}
	future["time"] = time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	seq := rejectedSeq(t, env, "leeds/police", future)
	// The same event refused a second time (a publisher retrying).
	seq2 := rejectedSeq(t, env, "leeds/police", future)
	// An event about Ben with a type not in the catalogue.
	benBad := testenv.Event("leeds/pct", "no.such.type", ben, map[string]any{})
	benSeq := rejectedSeq(t, env, "leeds/pct", benBad)
	env.WaitIdle()

	resolve := func(token string, s uint64, note string) testenv.Response {
		return env.Do("POST", fmt.Sprintf("/v1/deadletters/%d/resolve", s), token, "application/json", jsonBody(t, api.DeadLetterResolve{Note: note}))
	}
	resubmit := func(token string, s uint64, ev map[string]any, note string) testenv.Response {
		return env.Do("POST", fmt.Sprintf("/v1/deadletters/%d/resubmit", s), token, "application/json",
			jsonBody(t, api.DeadLetterResubmit{Event: jsonBody(t, ev), Note: note}))
	}

	// Roles: a read-only operator and a participant cannot.
	if r := resolve(reader, seq, "looked at it"); r.Code != http.StatusForbidden {
		t.Errorf("reader resolving: %d %s", r.Code, r.Body)
	}
	if r := resubmit(reader, seq, good, "corrected the time"); r.Code != http.StatusForbidden {
		t.Errorf("reader resubmitting: %d %s", r.Code, r.Body)
	}
	for _, path := range []string{fmt.Sprintf("/v1/deadletters/%d/resolve", seq), fmt.Sprintf("/v1/deadletters/%d/resubmit", seq)} {
		if r := env.Do("POST", path, demo.Token("leeds/police"), "application/json", jsonBody(t, api.DeadLetterResolve{Note: "mine"})); r.Code != http.StatusUnauthorized {
			t.Errorf("participant on %s: %d", path, r.Code)
		}
	}
	// A note is required; a dead letter that does not exist is 404.
	if r := resolve(replayer, seq, ""); r.Code != http.StatusBadRequest || !strings.Contains(string(r.Body), "note") {
		t.Errorf("resolve without a note: %d %s", r.Code, r.Body)
	}
	if r := resolve(replayer, 999999, "no such thing"); r.Code != http.StatusNotFound {
		t.Errorf("resolve of no dead letter: %d %s", r.Code, r.Body)
	}

	// Still wrong: refused with its problems, nothing published.
	before := lastSeqs(t, env)
	for name, ev := range map[string]map[string]any{"still in the future": future, "another publisher's source": withSource(good, "/leeds/pct")} {
		r := resubmit(replayer, seq, ev, "tried a correction")
		var tr api.DeadLetterTriage
		if r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s", name, r.Code, r.Body)
		}
		r.JSON(t, &tr)
		if tr.Accepted || len(tr.Problems) == 0 || tr.Seq != seq {
			t.Errorf("%s: %+v", name, tr)
		}
	}
	env.WaitIdle()
	if after := lastSeqs(t, env); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused resubmission stored something: before %v, after %v", before, after)
	}
	if c := copiesOf(env, good["id"].(string)); len(c) != 0 {
		t.Errorf("copies of a refused resubmission: %v", c)
	}

	// What the policy will do with the corrected event.
	r := env.Do("POST", "/v1/decide", reader, "application/json", jsonBody(t, good))
	var ex api.Explanation
	if r.Code != http.StatusOK {
		t.Fatalf("decide: %d %s", r.Code, r.Body)
	}
	r.JSON(t, &ex)
	want := map[string]int{}
	for _, d := range ex.Decisions {
		if d.Allow {
			want[d.Participant] = 1
		}
	}
	if len(want) == 0 {
		t.Fatalf("the corrected incident goes to nobody: %+v", ex.Decisions)
	}

	// Corrected: accepted, delivered once; the second dead letter of the
	// same event resubmitted too is a duplicate, delivered no more.
	for _, s := range []uint64{seq, seq2} {
		r := resubmit(replayer, s, good, "corrected the event time (publisher clock was two days fast)")
		var tr api.DeadLetterTriage
		if r.Code != http.StatusOK {
			t.Fatalf("resubmit %d: %d %s", s, r.Code, r.Body)
		}
		r.JSON(t, &tr)
		if !tr.Accepted || tr.EventID != good["id"] || tr.Action != "resubmitted" || tr.By != "replayer" || tr.At == "" {
			t.Errorf("resubmit %d: %+v", s, tr)
		}
	}
	env.WaitIdle()
	if got := copiesOf(env, good["id"].(string)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("copies of the resubmitted event: %v, want %v", got, want)
	}
	decided := 0
	for _, rec := range env.Decisions(amy) {
		if rec.EventID == good["id"] && rec.Outcome == "decided" {
			decided++
		}
	}
	if decided != 1 {
		t.Errorf("the resubmitted event is decided %d times in Amy's audit, want 1", decided)
	}
	if r := resubmit(replayer, seq, good, "again"); r.Code != http.StatusConflict {
		t.Errorf("resubmitting a dead letter dealt with: %d %s", r.Code, r.Body)
	}

	// Resolve Ben's; the list shows each triage, ?open=true none of them.
	if r := resolve(replayer, benSeq, "publisher told to use the catalogue type; nothing to resend"); r.Code != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Code, r.Body)
	}
	if r := resolve(replayer, benSeq, "twice"); r.Code != http.StatusConflict {
		t.Errorf("resolving twice: %d %s", r.Code, r.Body)
	}
	all := deadLetterPage(t, env, reader, false)
	got := map[uint64]*api.DeadLetterTriage{}
	for _, dl := range all {
		got[dl.Seq] = dl.Triage
	}
	if tr := got[benSeq]; tr == nil || tr.Action != "resolved" || !strings.Contains(tr.Note, "catalogue type") || tr.By != "replayer" {
		t.Errorf("Ben's dead letter's triage: %+v", tr)
	}
	if tr := got[seq]; tr == nil || tr.Action != "resubmitted" || !tr.Accepted {
		t.Errorf("the resubmitted dead letter's triage: %+v", tr)
	}
	open := deadLetterPage(t, env, reader, true)
	for _, dl := range open {
		if dl.Triage != nil || dl.Seq == seq || dl.Seq == seq2 || dl.Seq == benSeq {
			t.Errorf("?open=true lists a dead letter dealt with: %d %+v", dl.Seq, dl.Triage)
		}
	}
	if len(open) != len(all)-3 {
		t.Errorf("%d open of %d, want %d", len(open), len(all), len(all)-3)
	}
	var ov api.Operations
	if r := env.Do("GET", "/v1/operations", reader, "", nil); r.Code != http.StatusOK {
		t.Fatalf("operations: %d %s", r.Code, r.Body)
	} else {
		r.JSON(t, &ov)
	}
	if ov.DeadLetters != len(open) {
		t.Errorf("the overview counts %d dead letters not dealt with, the list %d", ov.DeadLetters, len(open))
	}

	// Each triage is in the audit, naming the dead letter, not the note.
	opsRecs, err := env.Broker.AuditLog().Child(t.Context(), "_ops")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, rec := range opsRecs {
		if a := rec.Action; a != nil && strings.HasPrefix(a.Kind, "deadletter-") {
			kinds[a.Kind]++
			raw, _ := json.Marshal(rec)
			if a.Counts["dead_letter_seq"] == 0 || bytes.Contains(raw, []byte("catalogue type")) || bytes.Contains(raw, []byte(amy)) {
				t.Errorf("triage record %s", raw)
			}
		}
	}
	if kinds["deadletter-resolved"] != 1 || kinds["deadletter-resubmitted"] != 2 || kinds["deadletter-resubmit-refused"] != 2 {
		t.Errorf("triage records by kind: %v", kinds)
	}

	// Erasing Ben erases his dead letter and its note.
	if r := env.Do("POST", "/v1/erase", demo.OperatorToken, "application/json",
		jsonBody(t, api.ErasureRequest{Child: ben, Reason: "test: erasure takes triage notes"})); r.Code != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Code, r.Body)
	}
	kv, err := env.Broker.JetStream().KeyValue(t.Context(), wire.BucketTriage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(t.Context(), wire.TriageKey(benSeq)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("Ben's dead letter's triage after the erasure: %v", err)
	}
	if _, err := kv.Get(t.Context(), wire.TriageKey(seq)); err != nil {
		t.Errorf("Amy's dead letter's triage after Ben's erasure: %v", err)
	}
	assertStreamLacks(t, env, "KV_"+wire.BucketTriage, "catalogue type")
}

func withSource(ev map[string]any, source string) map[string]any {
	out := map[string]any{}
	for k, v := range ev {
		out[k] = v
	}
	out["source"] = source
	return out
}

// assertStreamLacks fails if any message of stream holds needle.
func assertStreamLacks(t *testing.T, env *testenv.Env, stream, needle string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	js := env.Broker.JetStream()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		return
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for n := info.State.Msgs; n > 0; n-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		if bytes.Contains(m.Data(), []byte(needle)) {
			t.Errorf("%s still holds %q (%s)", stream, needle, m.Subject())
		}
	}
}
