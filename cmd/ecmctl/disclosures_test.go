package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestDisclosuresCommand(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/disclosures": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, participantToken, " participant") {
				return
			}
			writeJSON(w, 200, map[string]any{"child": amy, "participant": "leeds/pct", "events": []any{
				map[string]any{"event_id": "e1", "type": "uk.gov.ecm.index.child.registered.v1", "event_time": "2026-01-01T00:00:00Z",
					"recipients": []any{map[string]any{"participant": "leeds/la-social-care", "decided_at": "2026-01-01T00:00:01Z", "basis": "s12-index", "removed": []string{}}}},
				map[string]any{"event_id": "e2", "type": "uk.gov.ecm.caf.completed.v1", "event_time": "2026-01-02T00:00:00Z", "recipients": []any{}},
			}})
		},
	})
	res := runAs(t, fb, participantToken, "disclosures", "--child", amy)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"Events of leeds/pct about child ******5919: 2", "leeds/la-social-care  2026-01-01T00:00:01Z  s12-index",
		"uk.gov.ecm.caf.completed.v1  (event e2)\n    received by nobody"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if res := runAs(t, fb, operatorToken, "disclosures", "--child", amy); res.code != 1 || !strings.Contains(res.stderr, "not a participant token") {
		t.Errorf("operator token: %q", res.stderr)
	}
}
