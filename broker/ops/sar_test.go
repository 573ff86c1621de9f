package ops_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
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

// A disclosure is a copy that was stored. With delivery_limits at 4 copies
// a participant, Amy's thirteen allowed copies are eight stored and five
// refused (kept in the dead letters): her subject access report and the
// publisher's /v1/disclosures list exactly the eight stored, each pointing
// at its copy in ECM_DELIVERY and claiming no field the copy lacks, and the
// five as refused, with the reason. The school's refused copy of an address
// change is not reported as a disclosure of the address. Once the limit is
// raised, a replay delivers the school's refused copies within what is
// lawful now (Amy has been shielded since: no address); their dead letters
// are marked resolved and hold the copies as delivered, not the address.
func TestDisclosuresAreStoredCopies(t *testing.T) {
	dir := t.TempDir()
	cfg := opsConfig()
	cfg.DeliveryLimits.MaxPerParticipant = 4
	b := startOpsBroker(t, cfg, dir)
	address := func(n int) map[string]any {
		return map[string]any{"address": map[string]any{"lines": []any{fmt.Sprint(n, " Park Row"), "Leeds"}, "postcode": "LS1 5HD"}, "area": "leeds"}
	}
	contact := map[string]any{"phone": "0113 496 0001"}
	mustPublish(t, b, "leeds/pct", testEvent("leeds/pct", "index.child.registered", amy, map[string]any{
		"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": time.Now().AddDate(-4, -2, 0).Format("2006-01-02"),
		"gender": "female", "address": address(1)["address"], "area": "leeds"}))
	mustPublish(t, b, "leeds/lea", testEvent("leeds/lea", "index.practitioner.involved", amy, map[string]any{
		"practitioner": map[string]any{"name": "Sam Tutor", "role": "teacher", "contact": contact}, "service": "school"}))
	waitIdle(t, b)
	for n := 2; n <= 6; n++ { // social care: 2 + 5 copies; the school (involved): 5
		mustPublish(t, b, "leeds/pct", testEvent("leeds/pct", "index.address.changed", amy, address(n)))
		waitIdle(t, b)
	}
	mustPublish(t, b, "leeds/la-social-care", testEvent("leeds/la-social-care", "index.flags.set", amy, map[string]any{"shielded": true}))
	waitIdle(t, b)

	// What ECM_DELIVERY holds of Amy's events, by copy sequence.
	heldCopies := func() map[uint64]heldCopy {
		out := map[uint64]heldCopy{}
		for _, p := range []string{"leeds/la-social-care", "leeds/lea", "leeds/pct"} {
			for _, c := range copiesOf(t, b, p) {
				if c.event["subject"] == amy {
					out[c.seq] = c
				}
			}
		}
		return out
	}
	sar := func() api.SubjectAccess {
		t.Helper()
		code, body := httpDo(t, b, "GET", "/v1/sar?child="+amy, opsToken, nil)
		if code != 200 {
			t.Fatalf("sar: %d %s", code, body)
		}
		var sa api.SubjectAccess
		if err := json.Unmarshal(body, &sa); err != nil {
			t.Fatal(err)
		}
		return sa
	}
	// checkStored: each disclosure is one held copy, of its participant and
	// event, whose data is the event's data less exactly what the
	// disclosure says was removed.
	checkStored := func(sa api.SubjectAccess, held map[uint64]heldCopy) {
		t.Helper()
		published := map[string]map[string]any{}
		for _, e := range sa.Events {
			var ev map[string]any
			_ = json.Unmarshal(e.Event, &ev)
			published[ev["id"].(string)] = ev["data"].(map[string]any)
		}
		seen := map[uint64]bool{}
		for _, d := range sa.Disclosures {
			c, ok := held[d.DeliverySeq]
			if d.Status != "delivered" || !ok || seen[d.DeliverySeq] || c.event["id"] != d.EventID || c.basis != d.Basis {
				t.Errorf("disclosure %+v is not a copy held (copy %+v)", d, c)
				continue
			}
			seen[d.DeliverySeq] = true
			want := map[string]any{}
			for k, v := range published[d.EventID] {
				want[k] = v
			}
			for _, r := range d.Removed {
				delete(want, strings.TrimPrefix(r, "data."))
			}
			got, _ := json.Marshal(c.event["data"])
			w, _ := json.Marshal(want)
			if string(got) != string(w) {
				t.Errorf("%s's copy of %s holds %s; the disclosure (removed %v) claims %s", d.Participant, nameOf(d.Type), got, d.Removed, w)
			}
		}
		if len(sa.Disclosures) != len(held) {
			t.Errorf("%d disclosures, %d copies held", len(sa.Disclosures), len(held))
		}
	}
	held := heldCopies()
	if len(held) != 8 {
		t.Fatalf("%d copies held, want 8 (4 each for social care and the school)", len(held))
	}
	sa := sar()
	checkStored(sa, held)
	refusedTo := map[string]int{}
	for _, d := range sa.Refused {
		refusedTo[d.Participant]++
		if d.Status != "refused" || !strings.Contains(d.RefusedReason, "delivery_limits.max_per_participant (4)") || d.DeadLetterSeq == 0 || d.DeliverySeq != 0 {
			t.Errorf("refused copy %+v", d)
		}
	}
	if len(sa.Refused) != 5 || refusedTo["leeds/la-social-care"] != 3 || refusedTo["leeds/lea"] != 2 {
		t.Errorf("refused copies by participant %v, want social care 3, the school 2", refusedTo)
	}
	for _, d := range sa.Disclosures {
		if d.Participant == "leeds/lea" && d.Type == "uk.gov.ecm.index.flags.set.v1" {
			t.Errorf("the school is said to have received the shielding flag, which was refused: %+v", d)
		}
	}

	// The publisher's view: the PCT's events and who holds each.
	code, body := httpDo(t, b, "GET", "/v1/disclosures?child="+amy, tokenOf("leeds/pct"), nil)
	var ans struct {
		Events []api.EventDisclosures `json:"events"`
	}
	if err := json.Unmarshal(body, &ans); code != 200 || err != nil {
		t.Fatalf("disclosures: %d %s", code, body)
	}
	recipients, refused := 0, 0
	for _, e := range ans.Events {
		for _, r := range e.Recipients {
			recipients++
			if c, ok := held[r.DeliverySeq]; !ok || r.Status != "delivered" || c.event["id"] != e.EventID {
				t.Errorf("%s: recipient %+v holds no such copy", nameOf(e.Type), r)
			}
		}
		for _, r := range e.Refused {
			refused++
			if r.Status != "refused" {
				t.Errorf("%s: refused %+v", nameOf(e.Type), r)
			}
		}
	}
	// The PCT published the registration and five address changes, eleven
	// copies allowed: social care holds the registration and two changes
	// (its fourth copy is the school's involvement), the school four
	// changes; the other four were refused.
	pctHeld := 0
	for _, c := range held {
		if c.event["source"] == "/leeds/pct" {
			pctHeld++
		}
	}
	if len(ans.Events) != 6 || pctHeld != 7 || recipients != pctHeld || refused != 11-pctHeld {
		t.Errorf("the PCT's events: %d, %d recipients (%d copies held), %d refused", len(ans.Events), recipients, pctHeld, refused)
	}

	// More room, and a replay of the school's refused copies.
	b.Close()
	cfg.DeliveryLimits.MaxPerParticipant = 100
	b = startOpsBroker(t, cfg, dir)
	res := replayAs(t, b, api.ReplaySelection{Participant: "leeds/lea", Child: amy})
	if res.Delivered != 2 || res.Refused != 0 {
		t.Fatalf("replay of the school's refused copies: %+v", res)
	}
	dls := deadLetters(t, b)
	resolved := 0
	for _, dl := range dls {
		if dl.Publisher != "ecm-broker" {
			continue
		}
		if !strings.Contains(dl.Headers["Nats-Msg-Id"], "@leeds/lea") {
			if dl.Resolved != nil {
				t.Errorf("social care's refused copy marked resolved: %+v", dl.Resolved)
			}
			continue
		}
		resolved++
		var copyOf map[string]any
		_ = json.Unmarshal(dl.Body, &copyOf)
		data, _ := copyOf["data"].(map[string]any)
		if dl.Resolved == nil || dl.Resolved.ID != res.ID || dl.Resolved.Operation != "replay" || dl.Resolved.DeliverySeq == 0 {
			t.Errorf("the school's refused copy is not marked resolved by the replay: %+v", dl)
		}
		if _, has := data["address"]; has || data == nil {
			t.Errorf("the school's dead letter still holds what the delivered copy lacks: %s", dl.Body)
		}
	}
	if resolved != 2 {
		t.Errorf("%d of the school's dead letters, want 2 (resolved)", resolved)
	}
	sa = sar()
	checkStored(sa, heldCopies())
	replayed := 0
	for _, d := range sa.Disclosures {
		if d.Replay == res.ID {
			replayed++
			if d.Operation != "replay" || d.Type == "uk.gov.ecm.index.address.changed.v1" && !slices.Contains(d.Removed, "data.address") {
				t.Errorf("replayed copy %+v: want the address removed (shielded since)", d)
			}
		}
	}
	resolvedBy := 0
	for _, d := range sa.Refused {
		if d.ResolvedBy == res.ID {
			resolvedBy++
		}
	}
	if replayed != 2 || resolvedBy != 2 || len(sa.Refused) != 5 {
		t.Errorf("after the replay: %d replayed disclosures, %d refused copies resolved by it, %d refused", replayed, resolvedBy, len(sa.Refused))
	}
}

// deadLetters reads every dead letter.
func deadLetters(t *testing.T, b *broker.Broker) []api.DeadLetter {
	t.Helper()
	code, body := httpDo(t, b, "GET", "/v1/deadletters?limit=1000", opsToken, nil)
	var out struct {
		DeadLetters []api.DeadLetter `json:"deadletters"`
	}
	if err := json.Unmarshal(body, &out); code != 200 || err != nil {
		t.Fatalf("dead letters: %d %s", code, body)
	}
	return out.DeadLetters
}

func nameOf(typ string) string {
	return strings.TrimSuffix(strings.TrimPrefix(typ, "uk.gov.ecm."), ".v1")
}
