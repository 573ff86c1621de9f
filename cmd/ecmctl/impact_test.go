package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImpactCommand(t *testing.T) {
	var got map[string]any
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/impact": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			_ = json.NewDecoder(r.Body).Decode(&got)
			ndjson(w, 1, map[string]any{"draft_revision": "d1", "current_revision": "c1", "events": 1000, "generated": 3,
				"changed_rules": []string{"data.ecm.police._told_kinds"}, "affected_types": []string{"uk.gov.ecm.police.incident.v1"},
				"evaluated": 50, "unaffected": 953, "changed_events": 1, "changed_decisions": 2, "seconds": 1.5,
				"participants": []map[string]any{{"participant": "leeds/lea", "events_lost": 1, "children_lost": 1,
					"fields_disclosed": map[string]int{}, "fields_withheld": map[string]int{"data.kind": 1, "data.child_present": 1}}},
				"samples": []map[string]any{{"seq": 3, "event_id": "e3", "type": "uk.gov.ecm.police.incident.v1", "child": "******5919",
					"participant": "leeds/lea", "current": map[string]any{"allow": true, "basis": "police-notification", "remove": []string{"data.summary"}},
					"draft": map[string]any{"allow": false, "basis": "no-rule"}}}}, "")
		},
	})
	dir := t.TempDir()
	for name, src := range map[string]string{"police.rego": "package ecm.police\n", "sub/ecm.rego": "package ecm\n", "police_test.rego": "package x\n", "README": "x"} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res := runAs(t, fb, operatorToken, "impact", "--policy", dir, "--from", "2026-01-01T00:00:00Z")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	mods, _ := got["modules"].(map[string]any)
	if len(mods) != 2 || mods["police.rego"] != "package ecm.police\n" || mods["sub/ecm.rego"] == nil || got["from"] != "2026-01-01T00:00:00Z" {
		t.Errorf("sent %v", got)
	}
	for _, want := range []string{"Draft d1 against policy c1: 1000 events and 3 generated events decided",
		"Changed rules: data.ecm.police._told_kinds", "Event types they can reach: uk.gov.ecm.police.incident.v1",
		"Decided again: 50; unaffected: 953", "Changed: 2 decisions in 1 event",
		"leeds/lea    0         1         0           1           0          -                 child_present(1) kind(1)",
		"3    police.incident  ******5919  leeds/lea    allow police-notification without data.summary  deny no-rule"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	res = runAs(t, fb, operatorToken, "impact", "--policy", filepath.Join(dir, "nowhere"))
	if res.code != 1 || !strings.Contains(res.stderr, "--policy") {
		t.Errorf("missing dir: %d %q", res.code, res.stderr)
	}
}
