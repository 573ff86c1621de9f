package ops_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

// The subject access export of a child with a known history is that history:
// its index record, its consent, its three events as published, the three
// decisions with every participant's answer, each followed by the record of
// its copies as stored, and the five disclosures, each a stored copy.
func TestSubjectAccessMatchesHistory(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	code, body := httpDo(t, b, "GET", "/v1/sar?child="+ben, opsToken, nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var sa api.SubjectAccess
	if err := json.Unmarshal(body, &sa); err != nil {
		t.Fatal(err)
	}
	if sa.Child != ben || sa.ChildKey != b.ChildKey(ben) || sa.GeneratedBy != "ops" {
		t.Errorf("header %+v", sa)
	}
	x := sa.Index
	if x == nil || x.UIN != ben || x.Area != "leeds" || x.Gender != "male" || fmt.Sprint(x.Name) != "map[family:Brown given:Ben]" ||
		len(x.Involvements) != 0 || x.Flags.Shielded {
		t.Errorf("index %+v", x)
	}
	if sa.Consent == nil || len(sa.Consent.Entries) != 1 {
		t.Fatalf("consent %+v", sa.Consent)
	}
	if e := sa.Consent.Entries[0]; e.Kind != "granted" || e.By != "leeds/lea" || e.GivenBy != "child" ||
		fmt.Sprint(e.Purposes) != "[caf]" || fmt.Sprint(e.Agencies) != "[pct la-social-care]" {
		t.Errorf("consent entry %+v", e)
	}
	var types []string
	for _, e := range sa.Events {
		var ev map[string]any
		_ = json.Unmarshal(e.Event, &ev)
		if ev["subject"] != ben || e.Publisher != "leeds/lea" || ev["source"] != "/leeds/lea" {
			t.Errorf("event %+v", e)
		}
		types = append(types, strings.TrimSuffix(strings.TrimPrefix(ev["type"].(string), "uk.gov.ecm."), ".v1"))
	}
	if strings.Join(types, ",") != "index.child.registered,consent.granted,caf.completed" {
		t.Errorf("events %v", types)
	}
	if len(sa.Decisions) != 6 || len(sa.Rejected) != 0 {
		t.Fatalf("%d audit records, %d rejected", len(sa.Decisions), len(sa.Rejected))
	}
	// Every decision, allowed and denied, for the six Leeds participants;
	// after each (once its copies were stored), the record of its copies.
	var denied int
	var decisions []api.AuditRecord
	decided := map[string]bool{}
	for _, r := range sa.Decisions {
		if r.Outcome == "copies" {
			if !decided[r.EventID] || len(r.Copies) == 0 {
				t.Errorf("copies of %s before its decision, or none: %+v", r.EventID, r)
			}
			continue
		}
		decided[r.EventID] = true
		decisions = append(decisions, r)
	}
	if len(decisions) != 3 {
		t.Fatalf("%d decisions, want 3", len(decisions))
	}
	for i, r := range decisions {
		var ev map[string]any
		_ = json.Unmarshal(sa.Events[i].Event, &ev)
		if r.EventID != ev["id"] || r.PolicyRevision != b.PolicyRevision() || r.Outcome != "decided" || len(r.Decisions) != 6 || r.Child != ben {
			t.Errorf("decision %d: %+v", i, r)
		}
		for _, d := range r.Decisions {
			if !d.Allow {
				denied++
			}
		}
	}
	var got []string
	for _, d := range sa.Disclosures {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(d.Type, "uk.gov.ecm."), ".v1")+" "+d.Participant+" "+d.Basis)
		if d.PolicyRevision != b.PolicyRevision() || d.DecidedAt == "" || d.Status != "delivered" || d.DeliverySeq == 0 || d.StoredAt == "" {
			t.Errorf("disclosure %+v", d)
		}
	}
	want := []string{
		"index.child.registered leeds/la-social-care s12-index",
		"consent.granted leeds/la-social-care consent",
		"consent.granted leeds/pct consent",
		"caf.completed leeds/la-social-care consent",
		"caf.completed leeds/pct consent",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("disclosures\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if denied != 3*6-len(want) {
		t.Errorf("%d denials, want %d", denied, 3*6-len(want))
	}
	// The export is audited: the next export shows it.
	_, body = httpDo(t, b, "GET", "/v1/sar?child="+ben, opsToken, nil)
	var again api.SubjectAccess
	_ = json.Unmarshal(body, &again)
	last := again.Decisions[len(again.Decisions)-1]
	if len(again.Decisions) != 7 || last.Outcome != "subject-access" || last.Action.By != "ops" || last.Action.Counts["disclosures"] != 5 {
		t.Errorf("audit of the export: %+v", last)
	}
	if code, _ := httpDo(t, b, "GET", "/v1/sar?child="+ben, tokenOf("leeds/lea"), nil); code != http.StatusUnauthorized {
		t.Errorf("participant token: %d", code)
	}
}

// A publisher asking who received its events about a child sees its own
// events only.
func TestDisclosures(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	type answer struct {
		Participant string                 `json:"participant"`
		Events      []api.EventDisclosures `json:"events"`
	}
	ask := func(p, child string) answer {
		code, body := httpDo(t, b, "GET", "/v1/disclosures?child="+child, tokenOf(p), nil)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var a answer
		_ = json.Unmarshal(body, &a)
		return a
	}
	a := ask("leeds/lea", ben)
	var got []string
	for _, e := range a.Events {
		var to []string
		for _, r := range e.Recipients {
			to = append(to, r.Participant)
		}
		got = append(got, strings.TrimPrefix(e.Type, "uk.gov.ecm.")+" → "+strings.Join(to, " "))
	}
	want := "index.child.registered.v1 → leeds/la-social-care|consent.granted.v1 → leeds/la-social-care leeds/pct|caf.completed.v1 → leeds/la-social-care leeds/pct"
	if a.Participant != "leeds/lea" || strings.Join(got, "|") != want {
		t.Errorf("leeds/lea about Ben: %v", got)
	}
	if a := ask("leeds/pct", ben); len(a.Events) != 0 {
		t.Errorf("leeds/pct sees events it did not publish: %+v", a.Events)
	}
	if a := ask("leeds/police", amy); len(a.Events) != 1 || len(a.Events[0].Recipients) != 3 {
		t.Errorf("leeds/police about Amy: %+v", a.Events)
	}
	if code, _ := httpDo(t, b, "GET", "/v1/disclosures?child="+ben, opsToken, nil); code != http.StatusUnauthorized {
		t.Errorf("operator token: %d", code)
	}
}
