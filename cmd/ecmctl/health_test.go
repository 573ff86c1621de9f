package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		readyCode  int
		checks     map[string]string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"ready", 200, map[string]string{"nats": "ok", "policy": "ok", "policy_revision": "r7", "audit": "ok"}, 0,
			`CHECK              STATUS
live               ok
ready              ok
  audit            ok
  nats             ok
  policy           ok
  policy_revision  r7
`, ""},
		{"audit not writable", 503, map[string]string{"nats": "ok", "policy": "ok", "policy_revision": "r7", "audit": "not writable: deliveries stopped"}, 1,
			`CHECK              STATUS
live               ok
ready              NO (503 Service Unavailable)
  audit            not writable: deliveries stopped
  nats             ok
  policy           ok
  policy_revision  r7
`, "ecmctl: the broker is not ready (503): audit: not writable: deliveries stopped\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := newFakeBroker(t, map[string]http.HandlerFunc{
				"GET /healthz": func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) },
				"GET /readyz": func(w http.ResponseWriter, _ *http.Request) {
					writeJSON(w, tt.readyCode, map[string]any{"ready": tt.readyCode == 200, "checks": tt.checks})
				},
			})
			res := runAs(t, fb, "", "health")
			if res.code != tt.wantCode || res.stdout != tt.wantOut || res.stderr != tt.wantStderr {
				t.Errorf("exit %d, stdout:\n%s\nstderr %q", res.code, res.stdout, res.stderr)
			}
			res = runAs(t, fb, "", "health", "--json")
			if res.code != tt.wantCode || !strings.HasPrefix(res.stdout, `{"healthz":{"status":"ok"},"readyz":{`) {
				t.Errorf("--json: exit %d, stdout %q", res.code, res.stdout)
			}
		})
	}
}
