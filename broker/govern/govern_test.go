package govern_test

// Four-eyes policy proposals against the real broker (test/testenv): a
// proposal by one operator goes live only when a second operator with the
// policy role approves it; decisions on live traffic change; every revision
// is kept; a restart keeps the approved one live; the audit holds each step.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
)

var tokens = map[string]string{"alice": "alice-token-Qm4r7TzW", "bob": "bob-token-Vn8c2KpX", "reader": "reader-token-Lw3j9HsB"}

func fourEyesConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := demo.Config()
	cfg.Operators = append(cfg.Operators,
		config.Operator{Name: "alice", Token: tokens["alice"], Roles: []config.Role{config.RolePolicy}},
		config.Operator{Name: "bob", Token: tokens["bob"], Roles: []config.Role{config.RolePolicy}},
		config.Operator{Name: "reader", Token: tokens["reader"]})
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func children(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if u, ok := uin.WithCheckDigit(fmt.Sprintf("4%08d", 5100+i)); ok {
			out = append(out, u)
		}
	}
	return out
}

// schoolsNotTold is the walk-through of docs/policy-guide.md as files: the
// two cells that tell education of domestic abuse removed, and the scenario
// rows that showed it rewritten to show the change.
func schoolsNotTold(t *testing.T) map[string]string {
	t.Helper()
	files, err := policies.Read(policies.FS, true)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string, n int) {
		t.Helper()
		if strings.Count(files[name], old) != n {
			t.Fatalf("%s holds %q %d times, want %d", name, old, strings.Count(files[name], old), n)
		}
		files[name] = strings.ReplaceAll(files[name], old, new)
	}
	edit("matrix.yaml", `        lea:
          when: child-present-at-domestic-abuse
          basis: police-notification
          remove: [data.summary]
          reason: "the child was present at domestic abuse: education is told, without the police summary (s.11)"
          source: CA 2004 s.11; EA 2002 s.175 via s.11(3)
          agreement: operation-encompass
`, "", 2)
	edit("matrix.yaml", "  revision: 2\n", "  revision: 3\n", 1)
	table := "scenarios/sharing.csv"
	edit(table, "leeds/lea police-notification without data.summary; leeds/pct police-notification without data.summary; york/lea police-notification without data.summary,leeds/police no-rule",
		"leeds/pct police-notification without data.summary,leeds/lea no-rule; york/lea no-rule; leeds/police no-rule", 1)
	edit(table, "leeds/la-social-care police-notification; leeds/lea police-notification without data.summary,leeds/pct no-rule",
		"leeds/la-social-care police-notification,leeds/lea no-rule; leeds/pct no-rule", 1)
	edit(table, "york/la-social-care police-notification; york/lea police-notification without data.summary,york/pct no-rule",
		"york/la-social-care police-notification,york/lea no-rule; york/pct no-rule", 1)
	edit(table, "leeds/lea agreement-lapsed; leeds/pct no-rule,2028-04-03", "leeds/lea no-rule; leeds/pct no-rule,2028-04-03", 1)
	return map[string]string{"matrix.yaml": files["matrix.yaml"], table: files[table]}
}

type client struct {
	t   *testing.T
	env *testenv.Env
}

func (c client) do(method, path, who string, body any, out any) (int, string) {
	c.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	tok := demo.OperatorToken
	if who != "ops" {
		tok = tokens[who]
	}
	r := c.env.Do(method, path, tok, "application/json", b)
	if out != nil && r.Code < 300 {
		r.JSON(c.t, out)
	}
	var e api.Error
	_ = json.Unmarshal(r.Body, &e)
	return r.Code, e.Error
}

func incident(child string) map[string]any {
	return testenv.Event("leeds/police", "police.incident", child, map[string]any{"kind": "domestic_abuse",
		"occurred_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "child_present": true, "summary": "Officers attended."})
}

// told publishes a domestic-abuse incident about an unregistered child of
// leeds and reports whether education (leeds/lea) received it, once social
// care has (so that the decision is made).
func told(t *testing.T, env *testenv.Env, child string) bool {
	t.Helper()
	ev := incident(child)
	env.MustPublish("leeds/police", ev)
	env.WaitIdle()
	has := func(p string) bool {
		for _, d := range env.Deliveries(p) {
			if d.Event["id"] == ev["id"] {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !has("leeds/la-social-care"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("social care was not told of the incident")
		}
	}
	return has("leeds/lea")
}

func TestFourEyesProposal(t *testing.T) {
	dir := t.TempDir()
	cfg := fourEyesConfig(t)
	env := testenv.StartWith(t, broker.Options{Config: cfg, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
	c := client{t, env}
	kids := children(4)
	start := env.Broker.PolicyRevision()
	if !told(t, env, kids[0]) {
		t.Fatal("before any proposal, education is not told of domestic abuse with the child present")
	}

	var live api.PolicyLive
	if code, msg := c.do("GET", "/v1/policy", "reader", nil, &live); code != 200 || live.Revision.Revision != start ||
		live.Revision.Origin != "start" || live.Reloading != "off" || len(live.Matrix) == 0 {
		t.Fatalf("GET /v1/policy at start: %d %s %+v", code, msg, live.Revision)
	}
	if !slices.ContainsFunc(live.Matrix, func(r api.MatrixRow) bool {
		return r.EventType == "police.incident" && r.Agency == "lea" && r.Shared && r.Source != "" &&
			r.AgencyName == "education (LEA and schools)" && strings.Contains(r.Reason, "only when")
	}) {
		t.Errorf("the live matrix does not say in words that education is told of domestic abuse: %+v", live.Matrix[:3])
	}

	good := schoolsNotTold(t)
	req := api.ProposalRequest{Title: "Stop telling schools of domestic abuse", Reason: "Operation Encompass now tells schools directly", Files: good}
	if code, msg := c.do("POST", "/v1/policy/proposals", "reader", req, nil); code != http.StatusForbidden || !strings.Contains(msg, "policy role") {
		t.Errorf("a read-only operator proposes: %d %s", code, msg)
	}
	var p api.Proposal
	if code, msg := c.do("POST", "/v1/policy/proposals", "alice", req, &p); code != http.StatusCreated {
		t.Fatalf("propose: %d %s", code, msg)
	}
	if !p.ChecksPassed || p.State != api.ProposalOpen || p.Author != "alice" || p.BaseRevision != start || p.DraftRevision == start ||
		len(p.Checks) != 5 || !strings.Contains(p.Diff, "--- "+start+"/matrix.yaml") || !strings.Contains(p.Diff, "+  revision: 3") {
		t.Fatalf("proposal: %+v", p)
	}

	// The author cannot approve, nor can a reader; a reason is needed.
	path := "/v1/policy/proposals/" + p.ID
	ok := api.ProposalVerdict{Reason: "reviewed the matrix and the scenario rows"}
	if code, msg := c.do("POST", path+"/approve", "alice", ok, nil); code != http.StatusForbidden ||
		!strings.Contains(msg, "alice proposed "+p.ID+" and cannot approve it too") {
		t.Errorf("approval by the author: %d %s", code, msg)
	}
	if code, _ := c.do("POST", path+"/approve", "reader", ok, nil); code != http.StatusForbidden {
		t.Errorf("approval by a reader: %d", code)
	}
	if code, msg := c.do("POST", path+"/approve", "bob", api.ProposalVerdict{}, nil); code != http.StatusBadRequest || !strings.Contains(msg, "reason") {
		t.Errorf("approval without a reason: %d %s", code, msg)
	}

	// A draft whose scenario rows still expect schools to be told fails its
	// checks and cannot be approved; one that deletes the table neither.
	failing := api.ProposalRequest{Title: "matrix only", Reason: "forgot the rows", Files: map[string]string{"matrix.yaml": good["matrix.yaml"]}}
	var bad api.Proposal
	if code, msg := c.do("POST", "/v1/policy/proposals", "alice", failing, &bad); code != http.StatusCreated || bad.ChecksPassed {
		t.Fatalf("failing proposal: %d %s %+v", code, msg, bad)
	}
	if code, msg := c.do("POST", "/v1/policy/proposals/"+bad.ID+"/approve", "bob", ok, nil); code != http.StatusConflict ||
		!strings.Contains(msg, "scenario tables (") || !strings.Contains(msg, "scenario failure") {
		t.Errorf("approval of a draft with a failing scenario: %d %s", code, msg)
	}
	deleting := api.ProposalRequest{Title: "no table", Reason: "the rows were in the way", Files: map[string]string{"matrix.yaml": good["matrix.yaml"]},
		Delete: []string{"scenarios/sharing.csv"}}
	var del api.Proposal
	if code, msg := c.do("POST", "/v1/policy/proposals", "alice", deleting, &del); code != http.StatusCreated || del.ChecksPassed {
		t.Fatalf("deleting proposal: %d %s %+v", code, msg, del)
	}
	if code, msg := c.do("POST", "/v1/policy/proposals/"+del.ID+"/approve", "bob", ok, nil); code != http.StatusConflict ||
		!strings.Contains(msg, "tests kept (the draft drops tests of the live policy: scenarios/sharing.csv)") {
		t.Errorf("approval of a draft that deletes the scenario table: %d %s", code, msg)
	}

	// The impact, computed in the background, shows the incident education
	// would no longer be told of.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.do("GET", path, "reader", nil, &p)
		if p.ImpactState != "running" || time.Now().After(deadline) {
			break
		}
	}
	if p.ImpactState != "done" || p.Impact == nil || p.Impact.ChangedEvents != 1 {
		t.Fatalf("impact: %s %+v", p.ImpactState, p.Impact)
	}

	// Bob approves: the draft is live and decides the next incident.
	if code, msg := c.do("POST", path+"/approve", "bob", ok, &p); code != 200 || p.State != api.ProposalApproved ||
		p.Verdict == nil || p.Verdict.By != "bob" {
		t.Fatalf("approval by bob: %d %s %+v", code, msg, p)
	}
	approved := env.Broker.PolicyRevision()
	if approved != p.DraftRevision {
		t.Fatalf("live revision %s, want the draft's %s", approved, p.DraftRevision)
	}
	if told(t, env, kids[1]) {
		t.Error("after the approval, education is still told of domestic abuse")
	}
	if code, msg := c.do("POST", path+"/approve", "bob", ok, nil); code != http.StatusConflict || !strings.Contains(msg, "is approved") {
		t.Errorf("second approval: %d %s", code, msg)
	}
	if code, msg := c.do("POST", "/v1/policy/proposals/"+bad.ID+"/refuse", "bob", api.ProposalVerdict{Reason: "the scenario rows must show the change"}, &bad); code != 200 || bad.State != api.ProposalRefused {
		t.Errorf("refusal: %d %s %+v", code, msg, bad)
	}
	// The deleting proposal was drafted against the revision no longer live.
	if code, msg := c.do("POST", "/v1/policy/proposals/"+del.ID+"/approve", "bob", ok, nil); code != http.StatusConflict {
		t.Errorf("approval of a failing proposal after the live policy changed: %d %s", code, msg)
	}

	c.do("GET", "/v1/policy", "reader", nil, &live)
	if r := live.Revision; r.Revision != approved || r.Origin != "proposal" || r.Proposal != p.ID || r.ProposedBy != "alice" || r.ApprovedBy != "bob" {
		t.Errorf("live revision: %+v", r)
	}
	if slices.ContainsFunc(live.Matrix, func(r api.MatrixRow) bool { return r.EventType == "police.incident" && r.Agency == "lea" && r.Shared }) {
		t.Error("the live matrix still tells education of police incidents")
	}
	var revs []api.PolicyRevision
	if c.do("GET", "/v1/policy/revisions", "reader", nil, &revs); len(revs) != 2 || revs[0].Revision != approved || revs[1].Revision != start ||
		revs[1].LiveUntil == "" || revs[0].LiveUntil != "" || revs[0].Files != nil {
		t.Fatalf("revisions: %+v", revs)
	}
	var old api.PolicyRevision
	if code, _ := c.do("GET", "/v1/policy/revisions/"+start, "reader", nil, &old); code != 200 || old.Files["matrix.yaml"] == good["matrix.yaml"] ||
		!strings.Contains(old.Files["matrix.yaml"], "education is told") || old.FileDigests["scenarios/sharing.csv"] == "" {
		t.Errorf("the start revision's text: %d %d files", code, len(old.Files))
	}

	// The audit holds each step, from which revision to which.
	kinds := policyAudit(t, c)
	for _, want := range []string{"policy-activated start by broker", "policy-proposed " + p.ID + " by alice", "policy-proposed " + bad.ID + " by alice",
		"policy-approved " + p.ID + " by bob", "policy-activated rev.00000002 by bob", "policy-refused " + bad.ID + " by bob"} {
		if !slices.ContainsFunc(kinds, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("the audit lacks %q: %q", want, kinds)
		}
	}
	if !slices.Contains(kinds, "policy-approved "+p.ID+" by bob from "+start+" to "+approved+": 1 of 1 recorded events would be decided otherwise (1 decision); leeds/lea: 1 event fewer") {
		t.Errorf("the approval's record does not say from, to and the impact: %q", kinds)
	}

	// A restart of the same deployment keeps the approved revision live.
	env.Broker.Close()
	env = testenv.StartWith(t, broker.Options{Config: cfg, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
	c.env = env
	if got := env.Broker.PolicyRevision(); got != approved {
		t.Fatalf("after a restart revision %s serves, want the approved %s", got, approved)
	}
	if told(t, env, kids[2]) {
		t.Error("after a restart, education is told again")
	}
	if c.do("GET", "/v1/policy/revisions", "reader", nil, &revs); len(revs) != 2 {
		t.Errorf("a restart recorded a revision: %+v", revs)
	}

	// Deploying a changed policy makes it live, as any deployment does.
	deployDir := t.TempDir()
	files, _ := policies.Read(policies.FS, true)
	maps.Copy(files, map[string]string{"matrix.yaml": strings.Replace(files["matrix.yaml"], "(s.11)\"", "(s.11, deployed)\"", 1)})
	for name, src := range files {
		p := filepath.Join(deployDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env.Broker.Close()
	env = testenv.StartWith(t, broker.Options{Config: cfg, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}, PolicyDir: deployDir})
	c.env = env
	if c.do("GET", "/v1/policy/revisions", "reader", nil, &revs); len(revs) != 3 || revs[0].Origin != "start" ||
		revs[0].Revision != env.Broker.PolicyRevision() || revs[0].Revision == approved || revs[1].LiveUntil == "" {
		t.Errorf("after deploying a changed policy: %+v", revs)
	}
}

// policyAudit reads the audit's policy records as "kind id by who [from
// X to Y: impact]".
func policyAudit(t *testing.T, c client) []string {
	t.Helper()
	var out struct {
		Records []api.AuditRecord `json:"records"`
	}
	if code, msg := c.do("GET", "/v1/policy/audit", "reader", nil, &out); code != 200 {
		t.Fatalf("policy audit: %d %s", code, msg)
	}
	var kinds []string
	for _, r := range out.Records {
		a := r.Action
		s := a.Kind + " " + a.ID + " by " + a.By
		if a.Kind == "policy-activated" && strings.Contains(a.Reason, "at start") {
			s = a.Kind + " start by " + a.By
		}
		if a.Kind == "policy-approved" {
			s += " from " + a.From + " to " + a.To + ": " + a.Impact
		}
		kinds = append(kinds, s)
	}
	return kinds
}

// Hot reload (--policy-watch) is off unless asked for; when on, a changed
// policy in the watched directory goes live, recorded with origin reload and
// audited.
func TestPolicyWatchRecordsReload(t *testing.T) {
	dir := t.TempDir()
	files, _ := policies.Read(policies.FS, true)
	write := func(files map[string]string) {
		for name, src := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(files)
	env := testenv.StartWith(t, broker.Options{Config: fourEyesConfig(t), PolicyDir: dir, PolicyWatch: true})
	c := client{t, env}
	var live api.PolicyLive
	if c.do("GET", "/v1/policy", "reader", nil, &live); live.Reloading != dir {
		t.Fatalf("reloading: %q, want %q", live.Reloading, dir)
	}
	start := env.Broker.PolicyRevision()
	write(map[string]string{"matrix.yaml": strings.Replace(files["matrix.yaml"], "(s.11)\"", "(s.11, edited)\"", 1)})
	for deadline := time.Now().Add(15 * time.Second); env.Broker.PolicyRevision() == start; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watched change did not go live")
		}
	}
	var revs []api.PolicyRevision
	for deadline := time.Now().Add(5 * time.Second); len(revs) < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c.do("GET", "/v1/policy/revisions", "reader", nil, &revs)
	}
	if len(revs) != 2 || revs[0].Origin != "reload" || revs[0].Revision != env.Broker.PolicyRevision() || revs[1].Revision != start {
		t.Fatalf("revisions: %+v", revs)
	}
	if kinds := policyAudit(t, c); !slices.Contains(kinds, "policy-activated rev.00000002 by broker") {
		t.Errorf("audit: %q", kinds)
	}
}
