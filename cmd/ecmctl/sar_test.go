package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestSARCommand(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/sar": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			writeJSON(w, 200, map[string]any{"child": amy, "generated_at": "2026-11-23T12:00:00Z", "generated_by": "ops",
				"index": map[string]any{"uin": amy, "dob": "2022-03-14", "name": map[string]any{"given": "Amy", "family": "Adams"}},
				"consent": map[string]any{"entries": []any{map[string]any{"kind": "granted", "at": "2026-01-01T00:00:00Z", "by": "leeds/lea",
					"given_by": "parent", "purposes": []any{"caf"}, "agencies": []any{"pct"}}}},
				"events": []any{map[string]any{"seq": 1, "recorded": "2026-01-01T00:00:00Z", "publisher": "leeds/pct",
					"event": map[string]any{"id": "e1", "type": "uk.gov.ecm.index.child.registered.v1", "data": map[string]any{"dob": "2022-03-14"}}}},
				"rejected": []any{},
				"decisions": []any{map[string]any{"event_id": "e1", "type": "uk.gov.ecm.index.child.registered.v1", "source": "/leeds/pct",
					"decided_at": "2026-01-01T00:00:01Z", "policy_revision": "r1", "outcome": "decided", "decisions": []any{
						map[string]any{"participant": "leeds/la-social-care", "allow": true, "basis": "s12-index", "remove": []string{}},
						map[string]any{"participant": "leeds/police", "allow": false, "basis": "no-rule"}}}},
				"disclosures": []any{map[string]any{"participant": "leeds/la-social-care", "event_id": "e1", "type": "uk.gov.ecm.index.child.registered.v1",
					"decided_at": "2026-01-01T00:00:01Z", "basis": "s12-index", "removed": []string{}, "policy_revision": "r1"}},
			})
		},
	})
	res := runAs(t, fb, operatorToken, "sar", "--child", amy)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"SUBJECT ACCESS: child " + amy, "1. Index record held", `given: "Amy"`, "2. Consent history",
		"granted  leeds/lea    parent    caf       pct", "3. Events held about the child (1)", "#1 recorded 2026-01-01T00:00:00Z from leeds/pct",
		"5. Decisions (1 audit records)", "leeds/police          deny      no-rule", "6. Disclosures (1)", "leeds/la-social-care  uk.gov.ecm.index.child.registered.v1  s12-index"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, res.stdout)
		}
	}
	if res := runAs(t, fb, operatorToken, "sar"); res.code != 1 || !strings.Contains(res.stderr, "sar needs --child") {
		t.Errorf("no child: %q", res.stderr)
	}
}
