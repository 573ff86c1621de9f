package child

import (
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/google/uuid"
)

// BrokerSource is the CloudEvents source of events the broker generates.
const BrokerSource = "/ecm-broker"

var derivedSpace = uuid.MustParse("0d6b2c7e-3f4a-4e8b-8d1c-5a9e7f2b6c10")

// Derive returns the events the broker generates because e changed a child's
// record from before to after (docs/policy-input.md, "Broker-generated
// events"); res is what Apply made of e, and served reports whether an area
// has participants (residence.go). An event that changed nothing because
// later ones had (order.go) generates no match or share. Their ids derive
// from e's, so a redelivered e generates the same events and they are
// delivered once.
func Derive(e *event.Event, before, after *api.IndexRecord, res Applied, served func(area string) bool) []*event.Event {
	if after == nil {
		return nil
	}
	var out []*event.Event
	gen := func(name string, data map[string]any) {
		id := uuid.NewSHA1(derivedSpace, []byte(e.Source+"#"+e.ID+"#"+name)).String()
		attrs := map[string]any{
			"specversion": "1.0", "id": id, "source": BrokerSource, "type": schemas.TypeOf(name),
			"subject": e.Subject, "time": e.Time.UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
			"dataschema": schemas.SchemaID(name), "causedby": e.ID,
		}
		out = append(out, &event.Event{ID: id, Source: BrokerSource, Type: attrs["type"].(string), Name: name,
			Subject: e.Subject, Time: e.Time, Publisher: "broker", Attrs: attrs, Data: data})
	}
	switch e.Name {
	case "index.address.changed", "index.child.registered":
		// Rule 5, ECM 3.36: the record follows the child to the new area,
		// whether an address change or a corrected registration moved it.
		if before != nil && after.Area != before.Area {
			gen("index.transferred", transferData(after))
		}
		// A claim about residence, or a move out of every served area: a
		// person must look (residence.go).
		if d, ok := residenceReview(e, before, after, res, served); ok {
			gen(ResidenceDisputed, d)
		}
	case "index.concern.flagged":
		// Rule 4, s.12(4)(g): a second practitioner's concern makes a match.
		active := ActiveConcerns(after)
		others := false
		for _, c := range active {
			if c.Participant != e.Publisher {
				others = true
			}
		}
		if others && len(res.Superseded) == 0 {
			gen("index.concern.matched", map[string]any{"concerns": concernList(active), "recipients": flaggers(active)})
		}
	case "index.practitioner.involved":
		// Rule 4: a newly involved participant learns of the active concerns.
		active := ActiveConcerns(after)
		if len(active) > 0 && !InvolvedWith(before, e.Publisher) && len(res.Superseded) == 0 {
			gen("index.concern.shared", map[string]any{"concerns": concernList(active), "recipients": []any{e.Publisher}})
		}
	}
	return out
}

func transferData(x *api.IndexRecord) map[string]any {
	d := map[string]any{"area": x.Area, "previous_area": x.PreviousArea, "flags": map[string]any{
		"shielded": x.Flags.Shielded, "care_leaver": x.Flags.CareLeaver, "learning_difficulty": x.Flags.LearningDifficulty}}
	set := func(k string, v any, present bool) {
		if present {
			d[k] = v
		}
	}
	set("name", x.Name, x.Name != nil)
	set("dob", x.DOB, x.DOB != "")
	set("gender", x.Gender, x.Gender != "")
	set("address", x.Address, x.Address != nil)
	set("carers", x.Carers, len(x.Carers) > 0)
	set("education", x.Education, x.Education != nil)
	set("gp", x.GP, x.GP != nil)
	var invs []any
	for _, inv := range x.Involvements {
		if inv.Active {
			m := map[string]any{"participant": inv.Participant, "practitioner": inv.Practitioner, "since": inv.Since, "active": true}
			if inv.Service != "" {
				m["service"] = inv.Service
			}
			invs = append(invs, m)
		}
	}
	set("involvements", invs, len(invs) > 0)
	active := ActiveConcerns(x)
	set("concerns", concernList(active), len(active) > 0)
	return d
}

func concernList(cs []api.Concern) []any {
	out := make([]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]any{"participant": c.Participant, "practitioner": c.Practitioner, "flagged_at": c.FlaggedAt})
	}
	return out
}

func flaggers(cs []api.Concern) []any {
	seen := map[string]bool{}
	var out []any
	for _, c := range cs {
		if !seen[c.Participant] {
			seen[c.Participant] = true
			out = append(out, c.Participant)
		}
	}
	return out
}

// Step is what one event did to a child's history.
type Step struct {
	After     State          // the state after the event
	Applied   Applied        // what the state took of the event, and what not
	Generated []*event.Event // the events the broker generates, decided against After
}

// Next is one step of a child's history, the same wherever history is read
// (the pipeline, explain, replay, impact): the state after e (ingest
// sequence seq), what it took of e, and the events the broker generates
// because e changed the record. served reports whether an area has
// participants (config.Registry.Serves).
func (s State) Next(e *event.Event, seq uint64, served func(area string) bool) Step {
	after, applied := s.Apply(e, seq)
	return Step{After: after, Applied: applied, Generated: Derive(e, s.Index, after.Index, applied, served)}
}
