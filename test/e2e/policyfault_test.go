package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
)

// faultyPolicy decides a safeguarding referral by the two data fields the
// policy is given (category and significant_harm, docs/policy-input.md):
// neglect gives a proper answer (social care of the area receives it,
// nobody else), and each other combination makes the policy fail in one
// way. It passes its own tests, so the broker accepts it: these are faults
// that only show on some input, at run time.
const faultyPolicy = `package ecm

_faults := {
	"physical": {true: "conflict", false: "slow"},
	"emotional": {true: "not-object", false: "bad-basis"},
	"sexual": {true: "allow-not-bool", false: "missing"},
}

default _mode := "fine"

_mode := _faults[input.event.data.category][input.event.data.significant_harm]

_deny := {"allow": false, "basis": "no-rule", "remove": [], "reason": "not for this participant"}

_fine(c) := {"allow": true, "basis": "s11-safeguarding", "remove": [], "reason": "referral"} if {
	c.id == "leeds/la-social-care"
} else := _deny

decision := {c.id: _fine(c) | some c in input.candidates} if _mode == "fine"

# Two keys that clash: an evaluation error (object keys must be unique).
decision := {k: v | some c in input.candidates; k := "same"; v := c.id} if _mode == "conflict"

# Far longer than the broker's 1 s budget: 25 million steps, no allocation.
decision := {c.id: _deny | some c in input.candidates} if {
	_mode == "slow"
	r := numbers.range(1, 5000)
	some i in r
	some j in r
	i + j < 0
}

decision := "everyone may have it" if _mode == "not-object"

decision := {c.id: {"allow": true, "basis": "because", "remove": [], "reason": "?"} | some c in input.candidates} if _mode == "bad-basis"

decision := {c.id: {"allow": "yes", "basis": "consent", "remove": [], "reason": "?"} | some c in input.candidates} if _mode == "allow-not-bool"

decision := {c.id: _fine(c) | some c in input.candidates; c.id != "leeds/police"} if _mode == "missing"
`

const faultyPolicyTest = `package ecm_test

import data.ecm

test_fine if {
	d := ecm.decision with input as {"event": {"data": {"category": "neglect", "significant_harm": true}}, "candidates": [{"id": "leeds/la-social-care"}, {"id": "leeds/pct"}]}
	d["leeds/la-social-care"].allow
	not d["leeds/pct"].allow
}
`

// A policy that errors, runs past its time limit or answers out of contract
// denies every candidate with basis policy-error; the audit record says
// policy-error and why, nobody receives the event, and
// ecm_policy_errors_total counts it. The same policy still decides the
// events it handles properly.
func TestPolicyFaultDeniesAndAudits(t *testing.T) {
	env := testenv.StartWith(t, broker.Options{Policies: fstest.MapFS{
		"ecm.rego":      {Data: []byte(faultyPolicy)},
		"ecm_test.rego": {Data: []byte(faultyPolicyTest)},
	}})
	tests := []struct {
		fault    string
		category string
		harm     bool
		errHas   string // in the audit record's error
	}{
		{"conflict", "physical", true, "object keys must be unique"},
		{"slow", "physical", false, "cancel"},
		{"not-object", "emotional", true, "is not an object"},
		{"bad-basis", "emotional", false, "basis because is not a known basis"},
		{"allow-not-bool", "sexual", true, "allow is not a boolean"},
		{"missing", "sexual", false, "decisions for"},
	}
	children := faultChildren(len(tests) + 1)
	fine := testenv.Event("leeds/lea", "safeguarding.referral", children[0], map[string]any{"category": "neglect", "summary": "Referral", "significant_harm": true})
	env.MustPublish("leeds/lea", fine)
	env.WaitIdle()
	if !eventuallyDelivered(env, "leeds/la-social-care", fine["id"].(string)) {
		t.Fatalf("the policy's proper answer was not delivered")
	}
	if recs := auditOf(env, children[0]); len(recs) != 1 || recs[0].Outcome != "decided" {
		t.Fatalf("audit of the proper answer: %+v", recs)
	}
	errorsBefore := metricValue(t, env, "ecm_policy_errors_total")

	for i, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			child := children[i+1]
			ev := testenv.Event("leeds/lea", "safeguarding.referral", child, map[string]any{"category": tt.category, "summary": "Referral", "significant_harm": tt.harm})
			env.MustPublish("leeds/lea", ev)
			env.WaitIdle()
			recs := auditOf(env, child)
			if len(recs) != 1 {
				t.Fatalf("%d audit records, want 1", len(recs))
			}
			rec := recs[0]
			if rec.Outcome != "policy-error" || !strings.Contains(rec.Error, tt.errHas) {
				t.Errorf("audit outcome %q error %q, want policy-error mentioning %q", rec.Outcome, rec.Error, tt.errHas)
			}
			if rec.PolicyRevision != env.Broker.PolicyRevision() {
				t.Errorf("audit names revision %s, serving %s", rec.PolicyRevision, env.Broker.PolicyRevision())
			}
			if len(rec.Decisions) == 0 {
				t.Fatal("no decisions audited")
			}
			for _, d := range rec.Decisions {
				if d.Allow || d.Basis != "policy-error" || d.Reason == "" {
					t.Errorf("decision %+v, want a policy-error denial with its reason", d)
				}
			}
			for _, p := range env.Config.Participants {
				if deliveredIDs(env, p.ID)[ev["id"].(string)] {
					t.Errorf("%s received the event", p.ID)
				}
			}
		})
	}
	if got := metricValue(t, env, "ecm_policy_errors_total") - errorsBefore; got != float64(len(tests)) {
		t.Errorf("ecm_policy_errors_total rose by %v, want %d", got, len(tests))
	}
}

// Policies as an operator deploys them: a directory the broker watches and
// reloads on POST /v1/policy/reload. A broken policy (syntax error, failing
// test) is refused with 422; the last good one keeps deciding; /readyz stays
// ready and says the reload was refused. A good one is then taken.
func TestPolicyReloadKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	write := func(policy, test string) {
		t.Helper()
		for name, src := range map[string]string{"ecm.rego": policy, "ecm_test.rego": test} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(faultyPolicy, faultyPolicyTest)
	env := testenv.StartWith(t, broker.Options{PolicyDir: dir})
	good := env.Broker.PolicyRevision()
	children := faultChildren(4)
	// decidedBy publishes a proper referral and returns the revision and
	// outcome its audit record names, and whether social care received it.
	decidedBy := func(child string) (rev, outcome string, delivered bool) {
		t.Helper()
		ev := testenv.Event("leeds/lea", "safeguarding.referral", child, map[string]any{"category": "neglect", "summary": "Referral", "significant_harm": false})
		env.MustPublish("leeds/lea", ev)
		env.WaitIdle()
		recs := auditOf(env, child)
		if len(recs) != 1 {
			t.Fatalf("%d audit records, want 1", len(recs))
		}
		return recs[0].PolicyRevision, recs[0].Outcome, eventuallyDelivered(env, "leeds/la-social-care", ev["id"].(string))
	}

	broken := []struct{ name, policy, test, errHas string }{
		{"syntax error", "package ecm\n\ndecision := {c.id: | some c in input.candidates}\n", faultyPolicyTest, "compiling policy"},
		{"failing test", strings.Replace(faultyPolicy, `"allow": true`, `"allow": false`, 1), faultyPolicyTest, "policy tests failed"},
	}
	for i, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			write(b.policy, b.test)
			r := env.Do("POST", "/v1/policy/reload", demo.OperatorToken, "", nil)
			var body struct {
				Error    string `json:"error"`
				Revision string `json:"revision"`
			}
			r.JSON(t, &body)
			if r.Code != http.StatusUnprocessableEntity || !strings.Contains(body.Error, b.errHas) || body.Revision != good {
				t.Errorf("reload: %d %s, want 422 mentioning %q and revision %s", r.Code, r.Body, b.errHas, good)
			}
			ready := readyz(t, env)
			if ready.Code != http.StatusOK || !ready.Ready || !strings.HasPrefix(ready.Checks["policy_reload"], "refused: ") ||
				ready.Checks["policy_revision"] != good {
				t.Errorf("/readyz after a refused reload: %d %+v", ready.Code, ready)
			}
			if rev, outcome, delivered := decidedBy(children[i]); rev != good || outcome != "decided" || !delivered {
				t.Errorf("after the refusal: decided by %s (%s), delivered %v; want %s, decided, delivered", rev, outcome, delivered, good)
			}
		})
	}
	if n := metricValue(t, env, `ecm_policy_reloads_total{result="refused"}`); n < float64(len(broken)) {
		t.Errorf("ecm_policy_reloads_total refused = %v, want at least %d", n, len(broken))
	}

	// A good new revision is taken, and the refusal leaves /readyz.
	write(strings.Replace(faultyPolicy, `"reason": "referral"`, `"reason": "referral, revised"`, 1), faultyPolicyTest)
	if r := env.Do("POST", "/v1/policy/reload", demo.OperatorToken, "", nil); r.Code != http.StatusOK {
		t.Fatalf("reload of a good policy: %d %s", r.Code, r.Body)
	}
	if env.Broker.PolicyRevision() == good {
		t.Fatal("the good policy was not taken")
	}
	if ready := readyz(t, env); ready.Checks["policy_reload"] != "" {
		t.Errorf("/readyz still reports a refusal: %+v", ready)
	}
	if rev, _, delivered := decidedBy(children[3]); rev != env.Broker.PolicyRevision() || !delivered {
		t.Errorf("after the reload: decided by %s, delivered %v", rev, delivered)
	}
}

type readiness struct {
	Code   int
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func readyz(t *testing.T, env *testenv.Env) readiness {
	t.Helper()
	r := env.Do("GET", "/readyz", "", "", nil)
	out := readiness{Code: r.Code}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("/readyz: %v: %s", err, r.Body)
	}
	return out
}

// faultChildren makes n valid UINs no other test in the package uses.
func faultChildren(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if u, ok := uin.WithCheckDigit(fmt.Sprintf("3%08d", 4200+i)); ok {
			out = append(out, u)
		}
	}
	return out
}

// auditOf reads a child's audit records of decisions (not those of the
// copies that follow them) once there are any (5 s at most).
// GET /v1/audit right after the broker is idle has been seen to answer
// nothing under load; the record is there a moment later.
func auditOf(env *testenv.Env, child string) []api.AuditRecord {
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := env.Decisions(child)
		if len(recs) > 0 || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventuallyDelivered reports whether participant has event id within 5 s
// (see auditOf).
func eventuallyDelivered(env *testenv.Env, participant, id string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !deliveredIDs(env, participant)[id] {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// deliveredIDs is the set of event ids a participant has received.
func deliveredIDs(env *testenv.Env, participant string) map[string]bool {
	out := map[string]bool{}
	for _, d := range env.Deliveries(participant) {
		out[d.Event["id"].(string)] = true
	}
	return out
}
