package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

// decide --what-if sends the event and the hypothetical child's state as an
// api.WhatIfRequest to POST /v1/whatif (served by the broker's what-if
// endpoint, built apart) and prints the explanation.
func TestDecideWhatIf(t *testing.T) {
	var got api.WhatIfRequest
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/whatif": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
				writeError(w, 400, err.Error())
				return
			}
			writeJSON(w, 200, api.Explanation{Type: "uk.gov.ecm.caf.completed.v1", Publisher: "leeds/lea", PolicyRevision: "abc",
				Decisions: []api.Decision{{Participant: "leeds/connexions", Allow: true, Basis: "consent", Remove: []string{}}}})
		},
	})
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ev := write("ev.json", `{"specversion":"1.0","type":"uk.gov.ecm.caf.completed.v1"}`)
	child := write("child.json", `{"uin":"","area":"york","shielded":true}`)
	consent := write("consent.json", `{"entries":[{"kind":"granted","purposes":["caf"]}]}`)
	r := runAs(t, fb, operatorToken, "decide", "--what-if", "--event", ev, "--child-json", child, "--consent-json", consent)
	if r.code != 0 || !strings.Contains(r.stdout, "What if (a hypothetical child") || !strings.Contains(r.stdout, "leeds/connexions  allow") {
		t.Fatalf("%+v", r)
	}
	if got.Child == nil || got.Child.Area != "york" || got.Consent == nil || len(got.Consent.Entries) != 1 || !strings.Contains(string(got.Event), "caf.completed") {
		t.Errorf("request: %+v", got)
	}
	if r := runAs(t, fb, operatorToken, "decide", "--event", ev, "--child-json", child); r.code != 1 || !strings.Contains(r.stderr, "need --what-if") {
		t.Errorf("--child-json without --what-if: %+v", r)
	}
}
