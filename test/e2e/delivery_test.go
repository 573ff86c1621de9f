package e2e

import (
	"testing"

	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
)

// runDemo publishes the demo sequence and waits until it is all decided.
func runDemo(t *testing.T) *testenv.Env {
	env := testenv.Start(t, "")
	for _, s := range demo.Steps() {
		ev := testenv.Event(s.From, s.Name, demo.Children[s.Child], s.Data)
		if s.Override != "" {
			ev["override"] = s.Override
		}
		env.MustPublish(s.From, ev)
	}
	env.WaitIdle()
	return env
}

func deliveriesOfType(env *testenv.Env, participant, typ string) []testenv.Delivery {
	var out []testenv.Delivery
	for _, d := range env.Deliveries(participant) {
		if d.Event["type"] == "uk.gov.ecm."+typ+".v1" {
			out = append(out, d)
		}
	}
	return out
}

// Deliveries reach exactly the participants the policy allows, with the
// fields it removes removed: a domestic-abuse incident with a 4-year-old
// present goes to social care whole, to the school and health without the
// police summary, and nowhere else.
func TestDeliveriesFollowThePolicy(t *testing.T) {
	env := runDemo(t)
	amy := demo.Children["Amy (4)"]
	want := map[string]bool{"leeds/la-social-care": true, "leeds/lea": false, "leeds/pct": false}
	for _, p := range env.Config.Participants {
		got := deliveriesOfType(env, p.ID, "police.incident")
		summary, expected := want[p.ID]
		if !expected {
			if len(got) != 0 {
				t.Errorf("%s received the police incident", p.ID)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%s received %d police incidents, want 1", p.ID, len(got))
		}
		d := got[0]
		data := d.Event["data"].(map[string]any)
		if _, has := data["summary"]; has != summary {
			t.Errorf("%s: summary present=%v, want %v", p.ID, has, summary)
		}
		if d.Event["subject"] != amy || d.Event["source"] != "/leeds/police" || d.Basis != "police-notification" {
			t.Errorf("%s: copy %v basis %s", p.ID, d.Event, d.Basis)
		}
		if data["child_present"] != true || data["kind"] != "domestic_abuse" {
			t.Errorf("%s: data changed beyond the removal: %v", p.ID, data)
		}
	}
	// The move: York's social care, school and health receive the transfer
	// from the broker; York's police do not.
	for _, id := range []string{"york/la-social-care", "york/lea", "york/pct"} {
		got := deliveriesOfType(env, id, "index.transferred")
		if len(got) != 1 || got[0].Event["source"] != "/ecm-broker" || got[0].Event["subject"] != amy {
			t.Fatalf("%s transfers: %+v", id, got)
		}
	}
	if got := deliveriesOfType(env, "york/police", "index.transferred"); len(got) != 0 {
		t.Errorf("york/police received the transfer")
	}
}

// One audit record per event, generated events included, denials audited
// with their reasons; and, for each event someone may receive, one record
// of its copies, each stored (no delivery limit here).
func TestAuditHasOneRecordPerEvent(t *testing.T) {
	env := runDemo(t)
	steps := map[string]int{}
	for _, s := range demo.Steps() {
		steps[s.Child]++
	}
	generated := map[string]int{"Amy (4)": 2} // the concern match and the transfer
	for child, u := range demo.Children {
		recs := env.Decisions(u)
		if len(recs) != steps[child]+generated[child] {
			t.Errorf("%s: %d audit records, want %d", child, len(recs), steps[child]+generated[child])
		}
		ids := map[string]bool{}
		for _, r := range recs {
			if ids[r.EventID] {
				t.Errorf("%s: two records for %s", child, r.EventID)
			}
			ids[r.EventID] = true
			if r.PolicyRevision != env.Broker.PolicyRevision() || len(r.Decisions) == 0 {
				t.Errorf("%s: record %+v", child, r)
			}
		}
		allowed := map[string]string{} // event id + participant -> basis
		for _, r := range recs {
			for _, d := range r.Decisions {
				if d.Allow {
					allowed[r.EventID+" "+d.Participant] = d.Basis
				}
			}
		}
		copies := map[string]bool{}
		for _, r := range env.Audit(u) {
			if r.Outcome != "copies" {
				continue
			}
			for _, c := range r.Copies {
				k := r.EventID + " " + c.Participant
				if allowed[k] != c.Basis || copies[k] || c.Status != "delivered" || c.DeliverySeq == 0 {
					t.Errorf("%s: copy of %s: %+v, allowed on %q", child, r.EventID, c, allowed[k])
				}
				copies[k] = true
			}
		}
		if len(copies) != len(allowed) {
			t.Errorf("%s: %d copies recorded, %d allowed", child, len(copies), len(allowed))
		}
	}
	// Ben's first CAF, before any consent: denied to everyone, audited.
	recs := env.Decisions(demo.Children["Ben (14)"])
	caf := recs[1]
	if caf.Type != "uk.gov.ecm.caf.completed.v1" {
		t.Fatalf("second record is %s", caf.Type)
	}
	for _, d := range caf.Decisions {
		if d.Allow {
			t.Errorf("CAF without consent allowed to %s", d.Participant)
		}
		if d.Participant == "leeds/la-social-care" && (d.Basis != "no-consent" || d.Reason == "") {
			t.Errorf("social care denial: %+v", d)
		}
	}
	// The override is marked for review.
	recs = env.Decisions(demo.Children["Cal (16)"])
	if last := recs[len(recs)-1]; !last.Review {
		t.Errorf("override not marked for review: %+v", last)
	}
}
