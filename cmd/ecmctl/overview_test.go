package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

func TestOpsTable(t *testing.T) {
	ov := api.Operations{Ready: true, Checks: map[string]string{"nats": "ok", "audit": "ok"}, Policy: "f1e68d9c73ef", Reload: "watching /etc/ecm/policy",
		Participants: []api.ParticipantBacklog{{Participant: "leeds/pct", Name: "Leeds PCT", Waiting: 1200, LastRead: "2026-11-20T22:10:00Z"},
			{Participant: "york/yot", Name: "York YOT"}},
		RefusedCopies: 2, DeadLetters: 5,
		Replays: []api.AuditRecord{{DecidedAt: "2026-11-21T08:00:00Z", Action: &api.AuditAction{Kind: "replay", ID: "ab12", By: "ops",
			Participant: "leeds/pct", Counts: map[string]int{"selected": 3, "delivered": 2}}}}}
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/operations": func(w http.ResponseWriter, r *http.Request) {
			if requireToken(w, r, operatorToken, "n operator") {
				writeJSON(w, 200, ov)
			}
		},
	})
	res := runAs(t, fb, operatorToken, "ops")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := `CHECK                      STATUS
ready                      yes
  audit                    ok
  nats                     ok
policy                     f1e68d9c73ef
policy reload              watching /etc/ecm/policy
dead letters open          5
  of which refused copies  2

PARTICIPANT  NAME       WAITING  LAST READ
leeds/pct    Leeds PCT  1200     2026-11-20T22:10:00Z
york/yot     York YOT   0        -

Recent replays and backfills (1)
  WHEN                  KIND    ID    BY   PARTICIPANT  COUNTS
  2026-11-21T08:00:00Z  replay  ab12  ops  leeds/pct    delivered=2 selected=3
`
	if res.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, want)
	}
	res = runAs(t, fb, participantToken, "ops")
	if res.code != 1 || !strings.Contains(res.stderr, "not an operator token") {
		t.Errorf("participant token: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestTriageCommands(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/deadletters/{seq}/resolve": func(w http.ResponseWriter, r *http.Request) {
			var req api.DeadLetterResolve
			_ = json.NewDecoder(r.Body).Decode(&req)
			writeJSON(w, 200, api.DeadLetterTriage{Seq: 7, Action: "resolved", Note: req.Note, By: "ops", At: "2026-11-21T08:00:00Z"})
		},
		"POST /v1/deadletters/{seq}/resubmit": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 422, api.DeadLetterTriage{Seq: 7, Action: "resubmitted", Problems: []api.Problem{{Field: "time", Reason: "is in the future"}}})
		},
	})
	res := runAs(t, fb, operatorToken, "deadletters", "resolve", "7", "--note", "publisher resent it")
	if res.code != 0 || res.stdout != "Dead letter 7 resolved by ops at 2026-11-21T08:00:00Z\nNote: publisher resent it\n" {
		t.Errorf("resolve: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if reqs := fb.requests(); len(reqs) != 1 || reqs[0].path != "/v1/deadletters/7/resolve" || !strings.Contains(string(reqs[0].body), `"note":"publisher resent it"`) {
		t.Errorf("requests %+v", reqs)
	}
	res = runCLI(t.Context(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": operatorToken}, `{"id": "x"}`, "deadletters", "resubmit", "7", "-", "--note", "try")
	if res.code != 1 || !strings.Contains(res.stdout, "time   is in the future") || !strings.Contains(res.stderr, "refused, nothing was published (1 problem)") {
		t.Errorf("resubmit refused: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, args := range [][]string{
		{"deadletters", "resolve", "7"},                           // no note
		{"deadletters", "resolve", "x", "--note", "n"},            // not a sequence
		{"deadletters", "resubmit", "7", "--note", "n"},           // no file
		{"sar", "review", "--child", "9434765919"},                // no withhold file
		{"sar", "review", "--withhold-file", "f", "--child", "1"}, // not a UIN
	} {
		if res := runAs(t, fb, operatorToken, args...); res.code != 1 || res.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, res.code, res.stderr)
		}
	}
}
