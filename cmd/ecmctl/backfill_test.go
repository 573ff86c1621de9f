package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

func backfillBroker(t *testing.T) *fakeBroker {
	return newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/backfill": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			var req api.BackfillRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			if req.Confirm == "stale" {
				writeJSON(w, http.StatusConflict, map[string]string{"error": "no such dry run: confirm: no backfill dry run \"stale\" in the last 24h0m0s"})
				return
			}
			res := api.ReplayResult{ID: "bf1", Operation: "backfill", DryRun: req.Confirm == "", Operator: "ops", Selection: req.ReplaySelection,
				PolicyRevision: "abc", Children: 1, Selected: 2, Delivered: 1, Denied: 1, DeniedBy: map[string]int{"no-rule": 1},
				NewlyDisclosed: 1, Impact: "f00d", Items: []api.ReplayItem{
					{Seq: 4, EventID: "e4", Type: "uk.gov.ecm.police.incident.v1", Outcome: "would-deliver", Basis: "police-notification",
						Recorded: "denied (no-rule)", NewlyDisclosed: true},
					{Seq: 5, EventID: "e5", Type: "uk.gov.ecm.police.incident.v1", Outcome: "denied", Basis: "no-rule", Recorded: "none"},
				}}
			if req.Confirm != "" {
				res.ID, res.Confirms, res.Items[0].Outcome = "bf2", req.Confirm, "delivered"
			}
			ndjson(w, 1, res, "")
		},
	})
}

func TestBackfillCommand(t *testing.T) {
	fb := backfillBroker(t)
	res := runAs(t, fb, operatorToken, "backfill", "--participant", "leeds/lea", "--child", amy, "--type", "police.incident")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var sent api.BackfillRequest
	if err := json.Unmarshal(fb.requests()[0].body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Participant != "leeds/lea" || sent.Child != amy || sent.Confirm != "" || sent.DryRun {
		t.Errorf("sent %+v", sent)
	}
	for _, want := range []string{"Backfill dry run bf1 (nothing sent) to leeds/lea by ops, policy abc",
		"2 events of 1 child selected: 1 would be sent, 1 of them newly disclosed; 0 already held, 1 denied",
		"would-deliver", "denied (no-rule)", "NEW", "run the same command with --confirm bf1"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, res.stdout)
		}
	}

	res = runAs(t, fb, operatorToken, "backfill", "--participant", "leeds/lea", "--child", amy, "--type", "police.incident", "--confirm", "bf1")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if err := json.Unmarshal(fb.requests()[1].body, &sent); err != nil || sent.Confirm != "bf1" {
		t.Errorf("confirmation sent %+v %v", sent, err)
	}
	for _, want := range []string{"Backfill bf2 to leeds/lea by ops, policy abc, confirming dry run bf1", "1 sent, 1 of them newly disclosed"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("backfill output lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "--confirm") {
		t.Errorf("a confirmed backfill asks for a confirmation:\n%s", res.stdout)
	}

	res = runAs(t, fb, operatorToken, "backfill", "--participant", "leeds/lea", "--confirm", "stale")
	if res.code != 1 || !strings.Contains(res.stderr, "no backfill dry run") {
		t.Errorf("stale confirmation: exit %d, stderr %q", res.code, res.stderr)
	}
	res = runAs(t, fb, operatorToken, "backfill")
	if res.code != 1 || !strings.Contains(res.stderr, "backfill needs --participant") {
		t.Errorf("no participant: exit %d, stderr %q", res.code, res.stderr)
	}
}
