package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
)

// docs/policy-guide.md, end to end through ecmctl over a real broker: an IG
// lead stops telling schools of domestic-abuse incidents (one cell of the
// matrix, in two columns), adds the scenario rows that show it, checks the
// draft, proposes it; a second operator reads the proposal (checks, impact,
// diff) and approves it; the change decides live traffic, and the audit
// shows each step.
func TestPolicyGuideFourEyes(t *testing.T) {
	const leadToken, reviewerToken = demo.IGLeadToken, "reviewer-token-Mk4t8PbV" // the demo's ig-lead has the policy role
	cfg := demo.Config()
	cfg.Operators = append(cfg.Operators,
		config.Operator{Name: "reviewer", Token: reviewerToken, Roles: []config.Role{config.RolePolicy}})
	env := testenv.StartWith(t, broker.Options{Config: cfg})
	cli := func(token string, args ...string) result {
		t.Helper()
		return runCLI(context.Background(), map[string]string{"ECM_URL": env.Base, "ECM_TOKEN": token}, "", args...)
	}
	child, _ := uin.WithCheckDigit("461234567")
	incident := func() map[string]any {
		return testenv.Event("leeds/police", "police.incident", child, map[string]any{"kind": "domestic_abuse",
			"occurred_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "child_present": true, "summary": "Officers attended."})
	}
	env.MustPublish("leeds/police", incident()) // history the impact is computed over
	env.WaitIdle()
	evFile := filepath.Join(t.TempDir(), "incident.json")
	b, _ := json.Marshal(incident())
	if err := os.WriteFile(evFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli(demo.OperatorToken, "decide", "--event", evFile); r.code != 0 || !regexp.MustCompile(`leeds/lea +allow +police-notification`).MatchString(r.stdout) {
		t.Fatalf("before: education is told: %+v", r)
	}

	// The IG lead's draft: the cell, then the rows, then the check.
	dir := draftDir(t)
	stopTellingSchools(t, dir, false)
	stopTellingSchools(t, dir, true)
	if r := policyCLI("policy", "check", dir); r.code != 0 || !strings.HasPrefix(r.stdout, "accepted: matrix revision 3") {
		t.Fatalf("check: %+v", r)
	}
	r := cli(leadToken, "policy", "propose", dir, "--title", "Stop telling schools of domestic abuse", "--reason", "Operation Encompass tells schools directly")
	m := regexp.MustCompile(`Proposal (p-[0-9a-f]+): Stop telling schools`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stdout, "it changes matrix.yaml, scenarios/sharing.csv;") ||
		!strings.Contains(r.stdout, "ok   scenario tables: 30 scenario rows pass") || !strings.Contains(r.stdout, "ok   tests kept") {
		t.Fatalf("propose: %+v", r)
	}
	id := m[1]

	// The lead cannot approve their own proposal.
	if r := cli(leadToken, "policy", "approve", id, "--reason", "looks right"); r.code != 1 ||
		!strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "ig-lead proposed "+id+" and cannot approve it too: a second operator") {
		t.Errorf("self-approval: %+v", r)
	}

	// The reviewer reads it: checks, impact (once computed), diff.
	var out result
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out = cli(reviewerToken, "policy", "proposal", id)
		if !strings.Contains(out.stdout, "Impact over recorded history: running") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"State: open; proposed by ig-lead", "Checks: pass", "Changed: 1 decision in 1 event", "leeds/lea",
		"-          reason: \"the child was present at domestic abuse: education is told", "+  revision: 3", "+\"Domestic abuse"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("policy proposal lacks %q:\n%s", want, out.stdout)
		}
	}
	if r := cli(reviewerToken, "policy", "proposals"); r.code != 0 || !strings.Contains(r.stdout, id+"  open") {
		t.Errorf("proposals: %+v", r)
	}
	r = cli(reviewerToken, "policy", "approve", id, "--reason", "matrix cell and scenario rows reviewed with the DPO")
	if r.code != 0 || !strings.Contains(r.stdout, "Proposal "+id+" approved by reviewer: revision") {
		t.Fatalf("approve: %+v", r)
	}

	// Live: the same incident now reaches social care only.
	if r := cli(demo.OperatorToken, "decide", "--event", evFile); r.code != 0 || !regexp.MustCompile(`leeds/lea +deny +no-rule`).MatchString(r.stdout) {
		t.Errorf("after: education is not told: %+v", r)
	}
	var live api.PolicyLive
	if code := getJSONAs(t, env, "/v1/policy", &live); code != 200 || live.Revision.Origin != "proposal" || live.Revision.ApprovedBy != "reviewer" {
		t.Errorf("GET /v1/policy: %d %+v", code, live.Revision)
	}
	r = cli(demo.OperatorToken, "policy", "show", "live")
	if r.code != 0 || !strings.Contains(r.stdout, "Proposal "+id+", proposed by ig-lead, approved by reviewer") || !strings.Contains(r.stdout, "scenarios/sharing.csv") {
		t.Errorf("show live: %+v", r)
	}
	if r := cli(demo.OperatorToken, "policy", "show", "live", "--file", "matrix.yaml"); r.code != 0 || !strings.Contains(r.stdout, "  revision: 3\n") {
		t.Errorf("show --file: %d %s", r.code, r.stderr)
	}
	r = cli(demo.OperatorToken, "policy", "history")
	for _, want := range []string{`policy-activated +rev.00000001 +broker +- +[0-9a-f]{12} +the deployed policy went live at start`,
		`policy-proposed +` + id + ` +ig-lead +[0-9a-f]{12} +[0-9a-f]{12} +"Stop telling schools of domestic abuse": Operation Encompass tells schools directly; its checks pass`,
		`policy-approved +` + id + ` +reviewer .* matrix cell and scenario rows reviewed with the DPO \[impact: 1 of 1 recorded events would be decided otherwise`,
		`policy-activated +rev.00000002 +reviewer .*proposed by ig-lead, approved by reviewer`, `proposal +\S+ +- +ig-lead +reviewer`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("history lacks %q:\n%s", want, r.stdout)
		}
	}
	revs := regexp.MustCompile(`(?m)^  ([0-9a-f]{12})  `).FindAllStringSubmatch(r.stdout, -1)
	if len(revs) != 2 {
		t.Fatalf("history lists %d revisions:\n%s", len(revs), r.stdout)
	}
	r = cli(demo.OperatorToken, "policy", "diff", revs[1][1], "live")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("--- %s/matrix.yaml", revs[1][1])) || !strings.Contains(r.stdout, "-  revision: 2") {
		t.Errorf("diff: %+v", r)
	}
}

func getJSONAs(t *testing.T, env *testenv.Env, path string, out any) int {
	t.Helper()
	r := env.Do(http.MethodGet, path, demo.OperatorToken, "", nil)
	if r.Code == 200 {
		r.JSON(t, out)
	}
	return r.Code
}
