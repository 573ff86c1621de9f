package policy

import (
	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

// candidates selects the participants that may be concerned by e, given the
// child's record (docs/policy-input.md, "candidates"): the child's area, the
// participants on the record, the publisher, the new area of a move, and the
// recipients a generated event names.
func candidates(r *config.Registry, e *event.Event, x *api.IndexRecord) []config.Participant {
	seen := map[string]bool{}
	var out []config.Participant
	add := func(id string) {
		if p, ok := r.Participant(id); ok && !seen[id] {
			seen[id] = true
			out = append(out, p)
		}
	}
	addArea := func(area string) {
		for _, p := range r.InArea(area) {
			add(p.ID)
		}
	}
	if x != nil {
		addArea(x.Area)
		for _, inv := range x.Involvements {
			add(inv.Participant)
		}
		for _, c := range x.Concerns {
			add(c.Participant)
		}
	} else {
		addArea(child.AreaOf(e.Publisher))
	}
	add(e.Publisher)
	switch e.Name {
	case "index.address.changed", "index.transferred":
		addArea(str(e.Data["area"]))
	case child.ResidenceDisputed: // social care of each area it names (child/residence.go)
		for _, k := range []string{"area", "claimed_area", "previous_area"} {
			add(str(e.Data[k]) + "/la-social-care")
		}
	case "index.concern.matched", "index.concern.shared":
		for _, id := range list(e.Data["recipients"]) {
			add(str(id))
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
