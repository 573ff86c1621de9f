package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
	brokerchild "github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
)

// Child state follows the events' own time, and a registration from another
// area is a claim about residence, not a move (issue 11, section 1).

// residenceChild is a child of its own for each test, known to no other.
func residenceChild(t *testing.T, n int) string {
	t.Helper()
	for i := 0; ; i++ {
		if u, ok := uin.WithCheckDigit(fmt.Sprintf("947%06d", n*10+i)); ok {
			return u
		}
	}
}

func registeredIn(area, street string) map[string]any {
	return map[string]any{"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2014-05-02", "gender": "female",
		"address": map[string]any{"lines": []any{street}, "postcode": "LS6 3AA"}, "area": area}
}

func movedTo(area, street string) map[string]any {
	return map[string]any{"address": map[string]any{"lines": []any{street}, "postcode": "YO30 6LP"}, "area": area}
}

// publishAt publishes an event dated at (RFC 3339) and returns its id.
func publishAt(env *testenv.Env, from, name, child, at string, data map[string]any) string {
	env.T.Helper()
	ev := testenv.Event(from, name, child, data)
	ev["time"] = at
	env.MustPublish(from, ev)
	return ev["id"].(string)
}

func recordOf(t *testing.T, env *testenv.Env, child, id string) api.AuditRecord {
	t.Helper()
	for _, r := range env.Decisions(child) {
		if r.EventID == id {
			return r
		}
	}
	t.Fatalf("no audit record of %s", id)
	return api.AuditRecord{}
}

func causedBy(t *testing.T, env *testenv.Env, child, id string) []api.AuditRecord {
	t.Helper()
	var out []api.AuditRecord
	for _, r := range env.Decisions(child) {
		if r.CausedBy == id {
			out = append(out, r)
		}
	}
	return out
}

func received(env *testenv.Env, participant, typ, child string) []testenv.Delivery {
	var out []testenv.Delivery
	for _, d := range deliveriesOfType(env, participant, typ) {
		if d.Event["subject"] == child {
			out = append(out, d)
		}
	}
	return out
}

// heldArea is the child's area on the broker's record (subject access).
func heldArea(t *testing.T, env *testenv.Env, child string) string {
	t.Helper()
	r := env.Do("GET", "/v1/sar?child="+child, demo.OperatorToken, "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("subject access: %d %s", r.Code, r.Body)
	}
	var sa api.SubjectAccess
	r.JSON(t, &sa)
	if sa.Index == nil {
		t.Fatal("no index record")
	}
	return sa.Index.Area
}

// A Leeds school census dated 30 September lists a child who moved to York
// on 2 December: the older export does not move the child back, nothing is
// transferred to Leeds, York keeps the child, and the census's audit record
// says it was superseded. The census still reaches whom the policy says.
func TestOlderCensusDoesNotUndoANewerMove(t *testing.T) {
	env := testenv.Start(t, "")
	child := residenceChild(t, 1)
	publishAt(env, "leeds/pct", "index.child.registered", child, "2026-01-10T09:00:00Z", registeredIn("leeds", "14 Park Row"))
	move := publishAt(env, "leeds/la-social-care", "index.address.changed", child, "2026-12-02T09:00:00Z", movedTo("york", "3 Clifton Green"))
	census := publishAt(env, "leeds/lea", "index.child.registered", child, "2026-09-30T00:00:00Z", registeredIn("leeds", "14 Park Row"))
	env.WaitIdle()

	if area := heldArea(t, env, child); area != "york" {
		t.Fatalf("the child's area is %q after the older census, want york", area)
	}
	for _, p := range []string{"leeds/la-social-care", "leeds/lea", "leeds/pct"} {
		if got := received(env, p, "index.transferred", child); len(got) != 0 {
			t.Errorf("%s received %d transfers: the older census moved the child back", p, len(got))
		}
	}
	if got := received(env, "york/la-social-care", "index.transferred", child); len(got) != 1 {
		t.Errorf("york/la-social-care received %d transfers, want the move's one", len(got))
	}
	if gen := causedBy(t, env, child, census); len(gen) != 0 {
		t.Errorf("the census generated %d events (%s)", len(gen), gen[0].Type)
	}
	if gen := causedBy(t, env, child, move); len(gen) != 1 || !strings.HasSuffix(gen[0].Type, "index.transferred.v1") {
		t.Errorf("the move generated %+v", gen)
	}

	rec := recordOf(t, env, child, census)
	if !rec.Superseded || !strings.Contains(rec.Note, "address and area") || !strings.Contains(rec.Note, "2026-12-02") {
		t.Errorf("census audit record: superseded=%v note %q", rec.Superseded, rec.Note)
	}
	if strings.Contains(rec.Note, "Park Row") || strings.Contains(rec.Note, child) {
		t.Errorf("the note quotes the child's data: %q", rec.Note)
	}
	// Still decided and delivered: index data to social care of the child's area, York.
	if got := received(env, "york/la-social-care", "index.child.registered", child); len(got) != 1 || got[0].Event["id"] != census {
		t.Errorf("york/la-social-care did not receive the census registration: %+v", got)
	}
	if rec := recordOf(t, env, child, move); rec.Superseded || rec.Note != "" {
		t.Errorf("the move's record: superseded=%v note %q", rec.Superseded, rec.Note)
	}

	// What follows goes by York: a referral reaches York's social care, not Leeds'.
	ref := publishAt(env, "york/lea", "safeguarding.referral", child, "2026-12-02T12:00:00Z",
		map[string]any{"category": "neglect", "summary": "Arrived hungry.", "significant_harm": false})
	env.WaitIdle()
	if got := received(env, "york/la-social-care", "safeguarding.referral", child); len(got) != 1 || got[0].Event["id"] != ref {
		t.Errorf("york/la-social-care referrals: %+v", got)
	}
	if got := received(env, "leeds/la-social-care", "safeguarding.referral", child); len(got) != 0 {
		t.Errorf("leeds/la-social-care received the referral")
	}
}

// York's school registers a child who lives in Leeds: a claim, not a move.
// The child stays in Leeds; social care of both areas receive
// index.residence.disputed to resolve it.
func TestRegistrationFromAnotherAreaIsAClaim(t *testing.T) {
	env := testenv.Start(t, "")
	child := residenceChild(t, 2)
	publishAt(env, "leeds/pct", "index.child.registered", child, "2026-01-10T09:00:00Z", registeredIn("leeds", "14 Park Row"))
	claim := publishAt(env, "york/lea", "index.child.registered", child, "2026-09-30T09:00:00Z", registeredIn("york", "3 Clifton Green"))
	env.WaitIdle()

	if area := heldArea(t, env, child); area != "leeds" {
		t.Fatalf("the child's area is %q after York's registration, want leeds", area)
	}
	for _, p := range []string{"leeds/la-social-care", "york/la-social-care"} {
		got := received(env, p, "index.residence.disputed", child)
		if len(got) != 1 {
			t.Fatalf("%s received %d residence reviews, want 1", p, len(got))
		}
		d := got[0]
		data, _ := d.Event["data"].(map[string]any)
		if d.Basis != "s12-move" || d.Event["source"] != brokerchild.BrokerSource || d.Event["causedby"] != claim ||
			data["area"] != "leeds" || data["claimed_area"] != "york" || data["claimed_by"] != "york/lea" ||
			data["claimed_at"] != "2026-09-30T09:00:00Z" || data["reason"] != "conflicting-registration" || len(data) != 5 {
			t.Errorf("%s's review: basis %s event %v", p, d.Basis, d.Event)
		}
	}
	for _, p := range []string{"leeds/lea", "leeds/pct", "york/lea", "york/pct", "york/police"} {
		if got := received(env, p, "index.residence.disputed", child); len(got) != 0 {
			t.Errorf("%s received the residence review", p)
		}
	}
	for _, p := range []string{"york/la-social-care", "york/lea", "york/pct"} {
		if got := received(env, p, "index.transferred", child); len(got) != 0 {
			t.Errorf("%s received a transfer: the claim moved the child", p)
		}
	}
	rec := recordOf(t, env, child, claim)
	if rec.Superseded || !strings.Contains(rec.Note, "claim about residence") {
		t.Errorf("claim audit record: superseded=%v note %q", rec.Superseded, rec.Note)
	}
}

// A move to an area where no participant works is accepted, and social
// care of the area the child left receives the review, so that someone
// still has sight of the child.
func TestMoveToAnAreaWithoutParticipantsIsReviewed(t *testing.T) {
	env := testenv.Start(t, "")
	child := residenceChild(t, 3)
	publishAt(env, "leeds/pct", "index.child.registered", child, "2026-01-10T09:00:00Z", registeredIn("leeds", "14 Park Row"))
	move := publishAt(env, "leeds/pct", "index.address.changed", child, "2026-11-02T09:00:00Z", movedTo("bradford", "1 Mill Lane"))
	env.WaitIdle()

	if area := heldArea(t, env, child); area != "bradford" {
		t.Fatalf("the child's area is %q, want bradford", area)
	}
	got := received(env, "leeds/la-social-care", "index.residence.disputed", child)
	if len(got) != 1 {
		t.Fatalf("leeds/la-social-care received %d residence reviews, want 1", len(got))
	}
	data, _ := got[0].Event["data"].(map[string]any)
	if data["reason"] != "area-without-participants" || data["area"] != "bradford" || data["previous_area"] != "leeds" ||
		got[0].Event["causedby"] != move {
		t.Errorf("review: %v", got[0].Event)
	}
	for _, p := range env.Config.Participants {
		if p.ID != "leeds/la-social-care" && len(received(env, p.ID, "index.residence.disputed", child)) != 0 {
			t.Errorf("%s received the review", p.ID)
		}
	}
}

// A consent withdrawal exported late does not undo the grant given after
// it: the CAF still reaches the school.
func TestOlderWithdrawalDoesNotUndoANewerGrant(t *testing.T) {
	env := testenv.Start(t, "")
	child := residenceChild(t, 4)
	publishAt(env, "leeds/pct", "index.child.registered", child, "2026-01-10T09:00:00Z", registeredIn("leeds", "14 Park Row"))
	publishAt(env, "leeds/pct", "consent.granted", child, "2026-06-01T09:00:00Z",
		map[string]any{"given_by": "parent", "purposes": []any{"caf"}, "agencies": []any{"lea"}})
	late := publishAt(env, "leeds/la-social-care", "consent.withdrawn", child, "2026-03-01T09:00:00Z",
		map[string]any{"purposes": []any{"caf"}, "agencies": []any{"lea"}})
	caf := publishAt(env, "leeds/pct", "caf.completed", child, "2026-11-01T09:00:00Z", map[string]any{
		"needs":             []any{map[string]any{"outcome": "be_healthy", "summary": "Missed two dental appointments."}},
		"lead_professional": map[string]any{"name": "Mark Otieno", "role": "learning mentor", "contact": map[string]any{"email": "m@example.org"}}})
	env.WaitIdle()

	if rec := recordOf(t, env, child, late); !rec.Superseded || !strings.Contains(rec.Note, "consent for caf to lea") {
		t.Errorf("late withdrawal's record: superseded=%v note %q", rec.Superseded, rec.Note)
	}
	if got := received(env, "leeds/lea", "caf.completed", child); len(got) != 1 || got[0].Event["id"] != caf || got[0].Basis != "consent" {
		t.Errorf("leeds/lea CAFs: %+v", got)
	}
}
