package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

// ndjson answers as the broker's long operations do: progress lines, then
// the result (or an error line).
func ndjson(w http.ResponseWriter, progress int, result any, errMsg string) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	for i := 1; i <= progress; i++ {
		fmt.Fprintf(w, `{"progress":{"phase":"replay","done":%d,"total":%d}}`+"\n", i, progress)
	}
	if errMsg != "" {
		b, _ := json.Marshal(map[string]string{"error": errMsg})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	b, _ := json.Marshal(map[string]any{"result": result})
	fmt.Fprintf(w, "%s\n", b)
}

func replayBroker(t *testing.T, errMsg string) *fakeBroker {
	return newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/replay": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			ndjson(w, 2, map[string]any{"id": "r1", "operator": "ops", "policy_revision": "abc", "children": 2, "selected": 3,
				"already_delivered": 1, "delivered": 1, "denied": 1, "denied_by": map[string]int{"consent-withdrawn": 1},
				"items": []map[string]any{
					{"seq": 4, "event_id": "e4", "type": "uk.gov.ecm.caf.completed.v1", "outcome": "delivered", "basis": "consent", "removed": 1},
					{"seq": 5, "event_id": "e5", "type": "uk.gov.ecm.caf.completed.v1", "outcome": "denied", "basis": "consent-withdrawn"},
					{"seq": 9, "event_id": "e9", "type": "uk.gov.ecm.police.incident.v1", "outcome": "already-delivered"},
				}}, errMsg)
		},
	})
}

func TestReplayCommand(t *testing.T) {
	fb := replayBroker(t, "")
	res := runAs(t, fb, operatorToken, "replay", "--participant", "leeds/lea", "--from", "2026-11-20T09:00:00Z",
		"--child", amy, "--type", "caf.completed", "--type", "police.incident", "--from-seq", "3")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	// The body is the selection as the broker reads it (api.ReplaySelection):
	// not a dry run, and nothing the flags did not set.
	var sent api.ReplaySelection
	if err := json.Unmarshal(fb.requests()[0].body, &sent); err != nil {
		t.Fatal(err)
	}
	want := api.ReplaySelection{Participant: "leeds/lea", Child: amy, From: "2026-11-20T09:00:00Z", FromSeq: 3,
		Types: []string{"caf.completed", "police.incident"}}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("sent %+v, want %+v", sent, want)
	}
	for _, want := range []string{"Replay r1 to leeds/lea by ops, policy abc", "3 events of 2 children selected: 1 delivered, 1 already held, 1 denied",
		"denied: consent-withdrawn 1", "4    uk.gov.ecm.caf.completed.v1    delivered          consent            1 field(s)", "already-delivered"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "replay: 2 of 2 (100%)") {
		t.Errorf("progress on stderr: %q", res.stderr)
	}
}

func TestReplayRefusals(t *testing.T) {
	fb := replayBroker(t, "audit not written, nothing more delivered")
	tests := []struct {
		name, token string
		args        []string
		want        string
		sent        bool
	}{
		{"no participant", operatorToken, []string{"replay"}, "replay needs --participant", false},
		{"bad time", operatorToken, []string{"replay", "--participant", "leeds/lea", "--from", "yesterday"}, "--from: \"yesterday\" is not an RFC 3339 time", false},
		{"bad child", operatorToken, []string{"replay", "--participant", "leeds/lea", "--child", "123"}, "--child:", false},
		{"participant token", participantToken, []string{"replay", "--participant", "leeds/lea"}, "not an operator token", true},
		{"broker fails midway", operatorToken, []string{"replay", "--participant", "leeds/lea"}, "audit not written, nothing more delivered", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fb.requests())
			res := runAs(t, fb, tt.token, tt.args...)
			if res.code != 1 || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, tt.want)
			}
			if sent := len(fb.requests()) > before; sent != tt.sent {
				t.Errorf("request sent: %v, want %v", sent, tt.sent)
			}
		})
	}
}
