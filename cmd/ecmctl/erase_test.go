package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestEraseCommand(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/erase": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			writeJSON(w, 200, map[string]any{"id": "x1", "child_key": "k1", "operator": "ops", "reason": "r", "at": "2026-11-23T12:00:00Z",
				"index_record": true, "ingest": 8, "deliveries": 12, "dead_letters": 1})
		},
	})
	res := runAs(t, fb, operatorToken, "erase", "--child", amy, "--reason", "retention period ended")
	if res.code != 1 || !strings.Contains(res.stderr, "add --yes") || len(fb.requests()) != 0 {
		t.Fatalf("without --yes: exit %d %q, %d requests", res.code, res.stderr, len(fb.requests()))
	}
	res = runAs(t, fb, operatorToken, "erase", "--child", amy, "--reason", "retention period ended", "--yes")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var sent map[string]string
	_ = json.Unmarshal(fb.requests()[0].body, &sent)
	if sent["child"] != amy || sent["reason"] != "retention period ended" {
		t.Errorf("sent %v", sent)
	}
	for _, want := range []string{"Erased child ******5919 (erasure x1 by ops", "index record and consent history removed; 8 events, 12 delivered copies, 1 refused input removed",
		"under child key k1"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, amy) {
		t.Error("the output shows the UIN")
	}
}
