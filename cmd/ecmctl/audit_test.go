package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

func auditBroker(t *testing.T, recs []api.AuditRecord) *fakeBroker {
	return newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/audit": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, operatorToken, "n operator") {
				return
			}
			if r.URL.Query().Get("child") != amy {
				writeJSON(w, 200, map[string]any{"records": []api.AuditRecord{}})
				return
			}
			writeJSON(w, 200, map[string]any{"records": recs})
		},
	})
}

func TestAuditTable(t *testing.T) {
	recs := []api.AuditRecord{
		{IngestSeq: 3, EventID: "e-1", Source: "/leeds/police", Type: "uk.gov.ecm.police.incident.v1", Publisher: "leeds/police",
			ChildKey: "k", Child: amy, EventTime: "2026-11-20T22:10:00Z", DecidedAt: "2026-11-20T22:10:01Z", PolicyRevision: "r7",
			Outcome: "decided", Review: true, Decisions: []api.Decision{
				{Participant: "leeds/la-social-care", Allow: true, Basis: "statutory-duty", Remove: []string{"data.summary", "data.kind"}},
				{Participant: "leeds/pct", Allow: false, Basis: "no-basis", Reason: "no consent"},
			}},
		{EventID: "e-2", Source: "/leeds/pct", Type: "uk.gov.ecm.index.concern.flagged.v1", Publisher: "leeds/pct", Child: amy,
			DecidedAt: "2026-11-21T09:00:00Z", PolicyRevision: "r7", Outcome: "rejected", Decisions: []api.Decision{},
			Problems: []api.Problem{{Field: "time", Reason: "is in the future"}}},
	}
	fb := auditBroker(t, recs)
	res := runAs(t, fb, operatorToken, "audit", "--child", amy)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := `Audit of child ******5919: 2 records

TIME                  TYPE                                 SOURCE         OUTCOME   POLICY
2026-11-20T22:10:00Z  uk.gov.ecm.police.incident.v1        /leeds/police  decided   r7      REVIEW
    event e-1
    PARTICIPANT           DECISION  BASIS           REMOVED
    leeds/la-social-care  allow     statutory-duty  data.summary, data.kind
    leeds/pct             deny      no-basis        -

2026-11-21T09:00:00Z  uk.gov.ecm.index.concern.flagged.v1  /leeds/pct     rejected  r7
    event e-2
    problem: time: is in the future
    sent to nobody
`
	if res.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, want)
	}
	if strings.Contains(res.stdout, amy) {
		t.Error("the table shows the UIN")
	}
	if q := fb.requests()[0].query; q != "child="+amy {
		t.Errorf("query %q", q)
	}
}

func TestAuditRefusals(t *testing.T) {
	fb := auditBroker(t, nil)
	tests := []struct {
		name, token string
		args        []string
		want        string
		wantSent    bool
	}{
		{"participant token", participantToken, []string{"audit", "--child", amy}, "not an operator token (401: an operator token is required", true},
		{"bad check digit", operatorToken, []string{"audit", "--child", "9434765918"}, "--child: uin check digit does not match", false},
		{"no child", operatorToken, []string{"audit"}, "audit needs --child UIN", false},
		{"UIN as an argument", operatorToken, []string{"audit", amy}, "the UIN goes after --child", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fb.requests())
			res := runAs(t, fb, tt.token, tt.args...)
			if res.code != 1 || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, tt.want)
			}
			if sent := len(fb.requests()) > before; sent != tt.wantSent {
				t.Errorf("sent a request: %v, want %v", sent, tt.wantSent)
			}
		})
	}
}

func TestAuditJSONIsTheBrokersAnswer(t *testing.T) {
	fb := auditBroker(t, []api.AuditRecord{{EventID: "e-1", Child: amy, Outcome: "decided", Decisions: []api.Decision{}}})
	res := runAs(t, fb, operatorToken, "--json", "audit", "--child", amy)
	if res.code != 0 || !strings.HasPrefix(res.stdout, `{"records":[{`) || !strings.Contains(res.stdout, `"child":"`+amy+`"`) {
		t.Errorf("exit %d, stdout %q", res.code, res.stdout)
	}
}

// TestAuditShowsTheNote: an event older than what it would replace, or a
// registration taken as a residence claim, says so in the table.
func TestAuditShowsTheNote(t *testing.T) {
	note := "superseded: an event dated 2026-12-02T09:00:00Z had already set the address and area; this older event did not change them"
	fb := auditBroker(t, []api.AuditRecord{{EventID: "e-1", Source: "/leeds/lea", Type: "uk.gov.ecm.index.child.registered.v1",
		Child: amy, EventTime: "2026-09-30T00:00:00Z", PolicyRevision: "r7", Outcome: "decided", Superseded: true, Note: note,
		Decisions: []api.Decision{{Participant: "york/la-social-care", Allow: true, Basis: "s12-index"}}}})
	res := runAs(t, fb, operatorToken, "audit", "--child", amy)
	if res.code != 0 || !strings.Contains(res.stdout, "    note: "+note+"\n") {
		t.Errorf("exit %d, stdout:\n%s", res.code, res.stdout)
	}
}
