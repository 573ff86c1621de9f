package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestVerifyCommand(t *testing.T) {
	broken := false
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/audit/verify": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			rep := map[string]any{"stream": r.URL.Query().Get("stream"), "records": 120, "chains": 3, "checkpoints": 2,
				"covered": 118, "last_checkpoint": "2026-11-23T12:00:00Z", "ok": true, "break_count": 0}
			if broken {
				b := map[string]any{"seq": 57, "chain": "ab12.03.0", "index": 9, "problem": "index 9 follows index 7: 1 record(s) missing or moved"}
				rep["ok"], rep["first_break"], rep["breaks"], rep["break_count"] = false, b, []any{b}, 1
			}
			ndjson(w, 1, rep, "")
		},
	})
	res := runAs(t, fb, operatorToken, "audit", "verify", "--stream", "ECM_AUDIT_COPY")
	if res.code != 0 || !strings.Contains(res.stdout, "Audit ECM_AUDIT_COPY: 120 records in 3 chains, 2 signed checkpoints") ||
		!strings.Contains(res.stdout, "OK: every link holds") {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if q := fb.requests()[0].query; q != "stream=ECM_AUDIT_COPY" {
		t.Errorf("query %q", q)
	}
	broken = true
	res = runAs(t, fb, operatorToken, "audit", "verify")
	if res.code != 1 || !strings.Contains(res.stderr, "first broken link at sequence 57: index 9 follows index 7") ||
		!strings.Contains(res.stdout, "BROKEN: 1 problem") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	res = runAs(t, fb, operatorToken, "--json", "audit", "verify")
	if res.code != 1 || !strings.Contains(res.stdout, `"first_break"`) {
		t.Errorf("--json: exit %d %s", res.code, res.stdout)
	}
	res = runAs(t, fb, operatorToken, "help", "audit", "verify")
	if res.code != 0 || !strings.Contains(res.stdout, "Usage: ecmctl audit verify") {
		t.Errorf("help: %d %s", res.code, res.stdout)
	}
}
