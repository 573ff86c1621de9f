package child

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

const orderChild = "9434765919"

// ev is an event about orderChild from participant from at the given date
// (and optional clock time, "2026-09-30" or "2026-09-30T10:00:00Z").
func orderEvent(t *testing.T, from, name, at string, data map[string]any) *event.Event {
	t.Helper()
	if len(at) == len("2006-01-02") {
		at += "T09:00:00Z"
	}
	tm, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatal(err)
	}
	return &event.Event{ID: name + "@" + at + "@" + from, Source: "/" + from, Type: "uk.gov.ecm." + name + ".v1", Name: name,
		Subject: orderChild, Time: tm, Publisher: from, Data: data}
}

func orderReg(area, street string) map[string]any {
	return map[string]any{"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2014-05-02", "gender": "female",
		"address": map[string]any{"lines": []any{street}, "postcode": "LS6 3AA"}, "area": area}
}

func orderMove(area, street string) map[string]any {
	return map[string]any{"address": map[string]any{"lines": []any{street}, "postcode": "YO30 6LP"}, "area": area}
}

func orderConsent(purpose, agency string) map[string]any {
	return map[string]any{"given_by": "parent", "purposes": []any{purpose}, "agencies": []any{agency}}
}

func orderStreet(x *api.IndexRecord) string {
	if x == nil {
		return ""
	}
	a, _ := x.Address.(map[string]any)
	l, _ := a["lines"].([]any)
	if len(l) == 0 {
		return ""
	}
	s, _ := l[0].(string)
	return s
}

// Leeds and York have participants; Bradford has none.
func orderServed(area string) bool { return area == "leeds" || area == "york" }

func orderGenerated(evs []*event.Event) []string {
	var out []string
	for _, g := range evs {
		out = append(out, g.Name)
	}
	return out
}

// TestApplyFollowsEventTime: each case applies its events in arrival order;
// the last is the one under test. State follows the events' own time: an
// event older than what it would replace does not replace it, and says so.
func TestApplyFollowsEventTime(t *testing.T) {
	tests := []struct {
		name   string
		events func(t *testing.T) []*event.Event
		// what must hold of the state after all events
		area, previous, street string
		consentKinds           []string // the kinds of the consent entries, in order
		superseded             []string // Applied.Superseded of the last event
		claim                  string
		gen                    []string // names derive gives for the last event
		check                  func(t *testing.T, s State)
	}{
		{
			name: "an older census registration after a newer move does not move the child back",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/la-social-care", "index.address.changed", "2026-12-02", orderMove("york", "3 Clifton Green")),
					orderEvent(t, "leeds/lea", "index.child.registered", "2026-09-30", orderReg("leeds", "14 Park Row")),
				}
			},
			area: "york", previous: "leeds", street: "3 Clifton Green",
			superseded: []string{"address and area"},
			check: func(t *testing.T, s State) {
				// What the census may still say: it is newer than the first registration.
				if s.Index.Times["name"] != "2026-09-30T09:00:00Z" || s.Index.Times["residence"] != "2026-12-02T09:00:00Z" {
					t.Errorf("times %v", s.Index.Times)
				}
			},
		},
		{
			name: "an older address change in the same area does not replace a newer address",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/pct", "index.address.changed", "2026-06-01", orderMove("leeds", "9 New Road")),
					orderEvent(t, "leeds/lea", "index.address.changed", "2026-03-01", orderMove("leeds", "2 Old Lane")),
				}
			},
			area: "leeds", street: "9 New Road", superseded: []string{"address and area"},
		},
		{
			name: "an older move across the boundary after a newer one does not move the child back",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/pct", "index.address.changed", "2026-06-01", orderMove("york", "3 Clifton Green")),
					orderEvent(t, "leeds/lea", "index.address.changed", "2026-03-01", orderMove("leeds", "2 Old Lane")),
				}
			},
			area: "york", previous: "leeds", street: "3 Clifton Green", superseded: []string{"address and area"},
		},
		{
			name: "address changes with equal times: the later arrival wins, as before",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/pct", "index.address.changed", "2026-06-01", orderMove("leeds", "9 New Road")),
					orderEvent(t, "leeds/lea", "index.address.changed", "2026-06-01", orderMove("york", "3 Clifton Green")),
				}
			},
			area: "york", previous: "leeds", street: "3 Clifton Green", gen: []string{"index.transferred"},
		},
		{
			name: "an older consent withdrawal after a newer grant is kept in time order and decides nothing",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "consent.granted", "2026-04-01", orderConsent("caf", "lea")),
					orderEvent(t, "leeds/lea", "consent.withdrawn", "2026-02-01", orderConsent("caf", "lea")),
				}
			},
			consentKinds: []string{"withdrawn", "granted"},
			superseded:   []string{"consent for caf to lea"},
		},
		{
			name: "an older grant after a newer withdrawal does not restore sharing",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "consent.granted", "2026-01-01", orderConsent("caf", "lea")),
					orderEvent(t, "leeds/lea", "consent.withdrawn", "2026-04-01", orderConsent("caf", "lea")),
					orderEvent(t, "leeds/pct", "consent.granted", "2026-02-01", orderConsent("caf", "lea")),
				}
			},
			consentKinds: []string{"granted", "granted", "withdrawn"},
			superseded:   []string{"consent for caf to lea"},
		},
		{
			name: "an older consent entry for other agencies supersedes nothing",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "consent.granted", "2026-04-01", orderConsent("caf", "lea")),
					orderEvent(t, "leeds/lea", "consent.withdrawn", "2026-02-01", orderConsent("caf", "pct")),
				}
			},
			consentKinds: []string{"withdrawn", "granted"},
		},
		{
			name: "consent with equal times: in arrival order, the later decides",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "consent.granted", "2026-04-01", orderConsent("caf", "lea")),
					orderEvent(t, "leeds/lea", "consent.withdrawn", "2026-04-01", orderConsent("caf", "lea")),
				}
			},
			consentKinds: []string{"granted", "withdrawn"},
		},
		{
			name: "a newer registration naming another area from a participant of that area is a claim, not a move",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "york/lea", "index.child.registered", "2026-03-01", orderReg("york", "3 Clifton Green")),
				}
			},
			area: "leeds", street: "14 Park Row", claim: "york", gen: []string{ResidenceDisputed},
		},
		{
			name: "a claim from a participant of a third area is a claim too",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "york/pct", "index.child.registered", "2026-03-01", orderReg("bradford", "1 Mill Lane")),
				}
			},
			area: "leeds", street: "14 Park Row", claim: "bradford", gen: []string{ResidenceDisputed},
		},
		{
			name: "a claim older than the child's residence is superseded, not disputed",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-05-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "york/lea", "index.child.registered", "2026-03-01", orderReg("york", "3 Clifton Green")),
				}
			},
			area: "leeds", street: "14 Park Row", superseded: []string{"name", "date of birth", "gender", "address and area"},
		},
		{
			name: "a registration from the child's own area naming another area moves the child, as before",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-03-01", orderReg("york", "3 Clifton Green")),
				}
			},
			area: "york", previous: "leeds", street: "3 Clifton Green", gen: []string{"index.transferred"},
		},
		{
			name: "a registration naming the child's current area from another area's participant updates it, as before",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "york/lea", "index.child.registered", "2026-03-01", orderReg("leeds", "9 New Road")),
				}
			},
			area: "leeds", street: "9 New Road",
		},
		{
			name: "the first registration naming another area than the publisher's sets it, as before",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("york", "3 Clifton Green"))}
			},
			area: "york", previous: "leeds", street: "3 Clifton Green",
		},
		{
			name: "a record with no residence yet takes the registration of another area",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "york/pct", "index.gp.recorded", "2026-01-10", map[string]any{"practice": map[string]any{"name": "Minster Surgery"}}),
					orderEvent(t, "leeds/lea", "index.child.registered", "2026-03-01", orderReg("leeds", "14 Park Row")),
				}
			},
			area: "leeds", previous: "york", street: "14 Park Row", gen: []string{"index.transferred"},
		},
		{
			name: "a move to an area without participants is accepted and reviewed",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/pct", "index.address.changed", "2026-03-01", orderMove("bradford", "1 Mill Lane")),
				}
			},
			area: "bradford", previous: "leeds", street: "1 Mill Lane", gen: []string{"index.transferred", ResidenceDisputed},
		},
		{
			name: "an older concern flag after its withdrawal stays withdrawn and makes no match",
			events: func(t *testing.T) []*event.Event {
				sk := map[string]any{"practitioner": map[string]any{"name": "Sarah Khan", "contact": map[string]any{"phone": "0113 496 0123"}}}
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/police", "index.concern.flagged", "2026-02-01", map[string]any{"practitioner": map[string]any{"name": "PC Jones", "contact": map[string]any{"phone": "101"}}}),
					orderEvent(t, "leeds/pct", "index.concern.withdrawn", "2026-04-01", map[string]any{"practitioner": map[string]any{"name": "Sarah Khan"}}),
					orderEvent(t, "leeds/pct", "index.concern.flagged", "2026-03-01", sk),
				}
			},
			area: "leeds", street: "14 Park Row", superseded: []string{"concern flag"},
			check: func(t *testing.T, s State) {
				if n := len(ActiveConcerns(s.Index)); n != 1 {
					t.Errorf("%d active concerns, want PC Jones's only", n)
				}
			},
		},
		{
			name: "an older end of an involvement does not end a newer one",
			events: func(t *testing.T) []*event.Event {
				p := map[string]any{"name": "Sarah Khan", "role": "school nurse", "contact": map[string]any{"phone": "0113 496 0123"}}
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/pct", "index.practitioner.involved", "2026-05-01", map[string]any{"practitioner": p, "service": "school nursing"}),
					orderEvent(t, "leeds/pct", "index.practitioner.ended", "2026-04-01", map[string]any{"practitioner": map[string]any{"name": "Sarah Khan"}}),
				}
			},
			area: "leeds", street: "14 Park Row", superseded: []string{"involvement"},
			check: func(t *testing.T, s State) {
				if !InvolvedWith(s.Index, "leeds/pct") {
					t.Error("the involvement was ended by an older event")
				}
			},
		},
		{
			name: "each flag keeps its own time",
			events: func(t *testing.T) []*event.Event {
				return []*event.Event{
					orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")),
					orderEvent(t, "leeds/la-social-care", "index.flags.set", "2026-05-01", map[string]any{"shielded": true}),
					orderEvent(t, "leeds/la-social-care", "index.flags.set", "2026-04-01", map[string]any{"shielded": false, "care_leaver": true}),
				}
			},
			area: "leeds", street: "14 Park Row", superseded: []string{"shielded flag"},
			check: func(t *testing.T, s State) {
				if !s.Index.Flags.Shielded || !s.Index.Flags.CareLeaver {
					t.Errorf("flags %+v", s.Index.Flags)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			var res Applied
			var gen []*event.Event
			for i, e := range tt.events(t) {
				before := s
				s, res = s.Apply(e, uint64(i+1))
				gen = Derive(e, before.Index, s.Index, res, orderServed)
			}
			if tt.area != "" {
				if s.Index == nil {
					t.Fatal("no index record")
				}
				if s.Index.Area != tt.area || s.Index.PreviousArea != tt.previous || orderStreet(s.Index) != tt.street {
					t.Errorf("area %q previous %q street %q, want %q %q %q", s.Index.Area, s.Index.PreviousArea, orderStreet(s.Index),
						tt.area, tt.previous, tt.street)
				}
			}
			var kinds []string
			if s.Consent != nil {
				for _, c := range s.Consent.Entries {
					kinds = append(kinds, c.Kind)
				}
			}
			if !slices.Equal(kinds, tt.consentKinds) {
				t.Errorf("consent entries %v, want %v", kinds, tt.consentKinds)
			}
			if !slices.Equal(res.Superseded, tt.superseded) || res.Claim != tt.claim || !res.Changed {
				t.Errorf("applied %+v, want superseded %q claim %q", res, tt.superseded, tt.claim)
			}
			if got := orderGenerated(gen); !slices.Equal(got, tt.gen) {
				t.Errorf("generated %v, want %v", got, tt.gen)
			}
			note := res.Note()
			if (note == "") != (len(tt.superseded) == 0 && tt.claim == "") {
				t.Errorf("note %q", note)
			}
			for _, value := range []string{"Park Row", "Clifton Green", "Amy", "Sarah Khan", orderChild} {
				if strings.Contains(note, value) {
					t.Errorf("the note quotes %q: %s", value, note)
				}
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// TestResidenceReviewData: the review event names the areas, the claimant
// and the time, and nothing else.
func TestResidenceReviewData(t *testing.T) {
	var s State
	s, _ = s.Apply(orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")), 1)
	claim := orderEvent(t, "york/lea", "index.child.registered", "2026-03-01T10:30:00.5Z", orderReg("york", "3 Clifton Green"))
	after, res := s.Apply(claim, 2)
	gen := Derive(claim, s.Index, after.Index, res, orderServed)
	if len(gen) != 1 {
		t.Fatalf("generated %v", orderGenerated(gen))
	}
	want := map[string]any{"area": "leeds", "claimed_area": "york", "claimed_by": "york/lea",
		"claimed_at": "2026-03-01T10:30:00.5Z", "reason": "conflicting-registration"}
	if b, w := orderJSON(t, gen[0].Data), orderJSON(t, want); b != w {
		t.Errorf("data %s, want %s", b, w)
	}
	if gen[0].Publisher != "broker" || gen[0].Attrs["causedby"] != claim.ID {
		t.Errorf("generated %+v", gen[0])
	}

	moved := orderEvent(t, "leeds/pct", "index.address.changed", "2026-03-02", orderMove("bradford", "1 Mill Lane"))
	after, res = s.Apply(moved, 2)
	gen = Derive(moved, s.Index, after.Index, res, orderServed)
	want = map[string]any{"area": "bradford", "claimed_area": "bradford", "previous_area": "leeds", "claimed_by": "leeds/pct",
		"claimed_at": "2026-03-02T09:00:00Z", "reason": "area-without-participants"}
	if len(gen) != 2 || orderJSON(t, gen[1].Data) != orderJSON(t, want) {
		t.Errorf("generated %v, data %s", orderGenerated(gen), orderJSON(t, gen[len(gen)-1].Data))
	}
}

// TestApplyReadsStatesWithoutTimes: a state stored before times were kept
// still decodes, and each of its values counts as set at time zero.
func TestApplyReadsStatesWithoutTimes(t *testing.T) {
	old := `{"index":{"uin":"9434765919","address":{"lines":["14 Park Row"],"postcode":"LS6 3AA"},"area":"leeds","flags":{"shielded":false,"care_leaver":false,"learning_difficulty":false}},
		"consent":{"entries":[{"seq":3,"kind":"granted","at":"2026-04-01T09:00:00Z","by":"leeds/pct","event_id":"x","purposes":["caf"],"agencies":["lea"]}]},"last_seq":3}`
	var s State
	if err := json.Unmarshal([]byte(old), &s); err != nil {
		t.Fatal(err)
	}
	s, res := s.Apply(orderEvent(t, "leeds/pct", "index.address.changed", "1990-01-01", orderMove("leeds", "9 New Road")), 4)
	if orderStreet(s.Index) != "9 New Road" || len(res.Superseded) != 0 {
		t.Errorf("street %q, applied %+v", orderStreet(s.Index), res)
	}
	s, res = s.Apply(orderEvent(t, "leeds/lea", "consent.withdrawn", "2026-02-01", orderConsent("caf", "lea")), 5)
	if s.Consent.Entries[0].Kind != "withdrawn" || len(res.Superseded) != 1 {
		t.Errorf("entries %+v, applied %+v", s.Consent.Entries, res)
	}
}

// TestApplyLeavesTheOldStateAlone: Apply copies the times it changes.
func TestApplyLeavesTheOldStateAlone(t *testing.T) {
	var s State
	s, _ = s.Apply(orderEvent(t, "leeds/pct", "index.child.registered", "2026-01-10", orderReg("leeds", "14 Park Row")), 1)
	before := orderJSON(t, s)
	_, _ = s.Apply(orderEvent(t, "leeds/pct", "index.address.changed", "2026-03-01", orderMove("york", "3 Clifton Green")), 2)
	if orderJSON(t, s) != before {
		t.Error("Apply changed the state it was given")
	}
}

func orderJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
