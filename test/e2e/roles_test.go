package e2e

// Operator roles (broker/config/roles.go, the wrappers in
// broker/httpapi/routes.go) and the access log (broker/httpapi/accesslog.go),
// over HTTP against the real broker.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
)

// Operators of each role, beside the demo's (which has every role).
var roleTokens = map[string]string{
	"reader":      "reader-token-Kq2v8XwL",
	"replayer":    "replayer-token-Zt5mP1r",
	"policy-lead": "policy-lead-token-Hb3n",
	"eraser":      "eraser-token-Jd9sQ4cV",
}

func rolesConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := demo.Config()
	cfg.Operators = append(cfg.Operators,
		config.Operator{Name: "reader", Token: roleTokens["reader"]}, // no roles: read only
		config.Operator{Name: "replayer", Token: roleTokens["replayer"], Roles: []config.Role{config.RoleReplay}},
		config.Operator{Name: "policy-lead", Token: roleTokens["policy-lead"], Roles: []config.Role{config.RolePolicy}},
		config.Operator{Name: "eraser", Token: roleTokens["eraser"], Roles: []config.Role{config.RoleErase}},
	)
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startRoles runs a broker with rolesConfig and the demo's history.
func startRoles(t *testing.T, o broker.Options) *testenv.Env {
	t.Helper()
	o.Config = rolesConfig(t)
	env := testenv.StartWith(t, o)
	for _, s := range demo.Steps() {
		ev := testenv.Event(s.From, s.Name, demo.Children[s.Child], s.Data)
		if s.Override != "" {
			ev["override"] = s.Override
		}
		env.MustPublish(s.From, ev)
	}
	env.WaitIdle()
	return env
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each role's limits: every operator reads; replay, policy and erasure
// need their roles (403 without); participants' tokens are not operators'
// and the other way round (401); /metrics needs an operator or its own
// address; /readyz names no participant.
func TestRolesLimits(t *testing.T) {
	env := startRoles(t, broker.Options{MetricsAddr: "127.0.0.1:0"})
	amyUIN, cal := demo.Children["Amy (4)"], demo.Children["Cal (16)"]
	decideBody := jsonBody(t, testenv.Event("leeds/pct", "index.concern.withdrawn", amyUIN, map[string]any{"practitioner": map[string]any{"name": "A B"}}))
	routes := []struct {
		method, path string
		body         []byte
		role         config.Role
		ok           int // the answer to an operator with the role
	}{
		{"GET", "/v1/audit?child=" + amyUIN, nil, config.RoleRead, 200},
		{"GET", "/v1/deadletters", nil, config.RoleRead, 200},
		{"POST", "/v1/decide", decideBody, config.RoleRead, 200},
		{"GET", "/v1/sar?child=" + amyUIN, nil, config.RoleRead, 200},
		{"GET", "/v1/audit/verify", nil, config.RoleRead, 200},
		{"GET", "/metrics", nil, config.RoleRead, 200},
		{"POST", "/v1/replay", jsonBody(t, api.ReplaySelection{Participant: "york/lea", DryRun: true}), config.RoleReplay, 200},
		{"GET", "/v1/push", nil, config.RoleRead, 200},
		{"POST", "/v1/push/retry", jsonBody(t, api.PushRetryRequest{Participant: "york/lea"}), config.RoleReplay, 404}, // no webhook
		{"POST", "/v1/policy/reload", nil, config.RolePolicy, 200},
		{"POST", "/v1/impact", jsonBody(t, api.ImpactRequest{Modules: map[string]string{"x.rego": "package ecm\nnot valid"}}), config.RolePolicy, 422},
		{"POST", "/v1/erase", jsonBody(t, api.ErasureRequest{Child: "not-a-uin", Reason: "test: no such child"}), config.RoleErase, 400},
	}
	has := map[string][]config.Role{"reader": nil, "replayer": {config.RoleReplay}, "policy-lead": {config.RolePolicy}, "eraser": {config.RoleErase}}
	for name, roles := range has {
		for _, rt := range routes {
			r := env.Do(rt.method, rt.path, roleTokens[name], "application/json", rt.body)
			allowed := rt.role == config.RoleRead
			for _, h := range roles {
				allowed = allowed || h == rt.role
			}
			switch {
			case allowed && r.Code != rt.ok:
				t.Errorf("%s %s %s: %d %s, want %d", name, rt.method, rt.path, r.Code, r.Body, rt.ok)
			case !allowed && (r.Code != http.StatusForbidden || !strings.Contains(string(r.Body), "does not have the "+string(rt.role)+" role")):
				t.Errorf("%s %s %s: %d %s, want 403 naming the %s role", name, rt.method, rt.path, r.Code, r.Body, rt.role)
			}
		}
	}
	// A participant's token on every operator route; no token at all.
	for _, rt := range routes {
		for _, tok := range []string{demo.Token("leeds/pct"), ""} {
			if r := env.Do(rt.method, rt.path, tok, "application/json", rt.body); r.Code != http.StatusUnauthorized {
				t.Errorf("token %q: %s %s: %d, want 401", tok, rt.method, rt.path, r.Code)
			}
		}
	}
	// An operator's token on the participants' routes.
	for _, path := range []string{"/v1/deliveries", "/v1/disclosures?child=" + amyUIN} {
		if r := env.Do("GET", path, roleTokens["eraser"], "", nil); r.Code != http.StatusUnauthorized {
			t.Errorf("an operator on %s: %d, want 401", path, r.Code)
		}
	}
	// The erase role erases.
	if r := env.Do("POST", "/v1/erase", roleTokens["eraser"], "application/json",
		jsonBody(t, api.ErasureRequest{Child: cal, Reason: "test: the erase role"})); r.Code != http.StatusOK {
		t.Errorf("eraser erasing Cal: %d %s", r.Code, r.Body)
	}
	// Metrics on their own address need no token; the API's are above.
	resp, err := http.Get("http://" + env.Broker.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("ecm_events_in_total")) {
		t.Errorf("metrics address: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + env.Broker.MetricsAddr() + "/v1/deliveries"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the metrics address serves the API: %d", resp.StatusCode)
		}
	}
	// /readyz: coarse checks only, no participant or agency named.
	r := env.Do("GET", "/readyz", "", "", nil)
	if r.Code != http.StatusOK {
		t.Errorf("readyz: %d %s", r.Code, r.Body)
	}
	for _, p := range env.Config.Participants {
		for _, s := range []string{p.ID, p.Area + "_" + p.Agency, p.Agency} {
			if bytes.Contains(r.Body, []byte(s)) {
				t.Errorf("readyz names %q: %s", s, r.Body)
			}
		}
	}
}

// An operator's read of a child's data is in the child's audit, so its
// subject access export shows who looked, at what and when; a dead letter
// read is on _ops and on the child it names; a made-up UIN reads nothing and
// leaves nothing.
func TestRolesAccessLogInSubjectAccess(t *testing.T) {
	env := startRoles(t, broker.Options{})
	amyUIN := demo.Children["Amy (4)"]
	reader := roleTokens["reader"]
	// A dead letter naming Amy: an event of a type not in the catalogue.
	bad := testenv.Event("leeds/pct", "no.such.type", amyUIN, map[string]any{})
	if r := env.Publish("leeds/pct", bad); r.Code == http.StatusAccepted {
		t.Fatalf("an unknown type was accepted: %s", r.Body)
	}
	env.WaitIdle()

	if r := env.Do("GET", "/v1/audit?child="+amyUIN, reader, "", nil); r.Code != http.StatusOK {
		t.Fatalf("audit: %d %s", r.Code, r.Body)
	}
	decide := jsonBody(t, testenv.Event("leeds/pct", "index.concern.withdrawn", amyUIN, map[string]any{"practitioner": map[string]any{"name": "A B"}}))
	if r := env.Do("POST", "/v1/decide", reader, "application/json", decide); r.Code != http.StatusOK {
		t.Fatalf("decide: %d %s", r.Code, r.Body)
	}
	if r := env.Do("GET", "/v1/deadletters", reader, "", nil); r.Code != http.StatusOK {
		t.Fatalf("deadletters: %d %s", r.Code, r.Body)
	}
	// A child the broker knows nothing of.
	nobody := child(424242)
	decideNobody := jsonBody(t, testenv.Event("leeds/pct", "index.concern.withdrawn", nobody, map[string]any{"practitioner": map[string]any{"name": "A B"}}))
	if r := env.Do("POST", "/v1/decide", reader, "application/json", decideNobody); r.Code != http.StatusOK {
		t.Fatalf("decide (nobody): %d %s", r.Code, r.Body)
	}
	if recs := env.AuditWithReads(nobody); len(recs) != 0 {
		t.Errorf("a made-up UIN has %d audit records: %+v", len(recs), recs)
	}

	// Amy's subject access, by another operator.
	r := env.Do("GET", "/v1/sar?child="+amyUIN, roleTokens["eraser"], "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("sar: %d %s", r.Code, r.Body)
	}
	var sa api.SubjectAccess
	r.JSON(t, &sa)
	reads := map[string]api.AuditRecord{}
	for _, rec := range sa.Decisions {
		if rec.Action != nil && rec.Action.Kind == "read" {
			if rec.Action.By != "reader" || rec.ChildKey != env.Broker.ChildKey(amyUIN) || rec.DecidedAt == "" || rec.Chain == "" {
				t.Errorf("read record %+v (action %+v)", rec, rec.Action)
			}
			reads[rec.Action.Read] = rec
		}
	}
	for _, want := range []string{"GET /v1/audit", "POST /v1/decide", "GET /v1/deadletters"} {
		if _, ok := reads[want]; !ok {
			t.Errorf("Amy's subject access lacks the reader's %s; reads: %v", want, keys(reads))
		}
	}
	if len(reads) != 3 {
		t.Errorf("%d kinds of read in Amy's export, want 3: %v", len(reads), keys(reads))
	}
	// No UIN in any stored read record (the child is keyed; routes without
	// queries; the export fills in "child" as it reads them back).
	stored, err := env.Broker.AuditLog().Child(t.Context(), env.Broker.ChildKey(amyUIN))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range stored {
		if raw, _ := json.Marshal(rec); rec.Action != nil && rec.Action.Kind == "read" && bytes.Contains(raw, []byte(amyUIN)) {
			t.Errorf("a stored read record holds the UIN: %s", raw)
		}
	}
	// The page of dead letters as a whole, on _ops.
	ops, err := env.Broker.AuditLog().Child(t.Context(), "_ops")
	if err != nil {
		t.Fatal(err)
	}
	var page *api.AuditAction
	for _, rec := range ops {
		if rec.Action != nil && rec.Action.Kind == "read" && rec.Action.Read == "GET /v1/deadletters" && rec.Action.By == "reader" {
			page = rec.Action
		}
	}
	if page == nil || page.Counts["deadletters"] < 1 || page.Counts["children"] < 1 {
		t.Errorf("no _ops record of the dead letter page: %+v", page)
	}
	// The reads are links of the chain like any record.
	rep, err := env.Broker.AuditLog().Verify(t.Context(), "ECM_AUDIT", env.Broker.TrustedKeys(), nil)
	if err != nil || !rep.OK {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

func keys(m map[string]api.AuditRecord) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return fmt.Sprint(out)
}
