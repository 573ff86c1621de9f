package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

func TestDeadLettersTable(t *testing.T) {
	received := time.Date(2026, 11, 20, 22, 10, 0, 123, time.UTC)
	dls := []api.DeadLetter{
		{Seq: 12, Received: received, Publisher: "leeds/pct", Size: 310,
			Reasons: []string{"subject: not a valid UIN: uin check digit does not match (mod 11)", "time: is in the future"},
			Body:    json.RawMessage(`{"subject":"9434765918"}`)},
		{Seq: 15, Received: received.Add(time.Hour), Publisher: "york/yot", Reasons: []string{"event: body is over 262144 bytes"}, Truncated: true},
	}
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deadletters": func(w http.ResponseWriter, r *http.Request) {
			if requireToken(w, r, operatorToken, "n operator") {
				writeJSON(w, 200, map[string]any{"deadletters": dls, "next": 15})
			}
		},
	})
	res := runAs(t, fb, operatorToken, "deadletters", "--after", "10", "--limit", "2")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := `SEQ  RECEIVED              PUBLISHER  REASONS
12   2026-11-20T22:10:00Z  leeds/pct  subject: not a valid UIN: uin check digit does not match (mod 11)
                                      time: is in the future
15   2026-11-20T23:10:00Z  york/yot   event: body is over 262144 bytes
2 dead letters after 10; next: --after 15
`
	if res.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, want)
	}
	q, _ := url.ParseQuery(fb.requests()[0].query)
	if q.Get("after") != "10" || q.Get("limit") != "2" {
		t.Errorf("query %q", fb.requests()[0].query)
	}

	res = runAs(t, fb, participantToken, "deadletters")
	if res.code != 1 || !strings.Contains(res.stderr, "not an operator token") {
		t.Errorf("participant token: exit %d, stderr %q", res.code, res.stderr)
	}
	res = runAs(t, fb, operatorToken, "deadletters", "--limit", "0")
	if res.code != 1 || !strings.Contains(res.stderr, "--limit must be 1 to 1000") {
		t.Errorf("--limit 0: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestBrokerErrorField(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deadletters": func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusServiceUnavailable, "nats: stream not found")
		},
	})
	res := runAs(t, fb, operatorToken, "deadletters")
	want := "ecmctl: GET /v1/deadletters: 503 Service Unavailable: nats: stream not found\n"
	if res.code != 1 || res.stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, want)
	}
}
