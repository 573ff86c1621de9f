package broker

import "sort"

// Registry indexes the configured participants so that selecting an event's
// candidates costs the same with 6 or 900 participants.
type Registry struct {
	byID    map[string]Participant
	byArea  map[string][]Participant
	byToken map[string]Participant
	ops     map[string]string // token -> operator name
}

// NewRegistry indexes a checked configuration.
func NewRegistry(c *Config) *Registry {
	r := &Registry{byID: map[string]Participant{}, byArea: map[string][]Participant{},
		byToken: map[string]Participant{}, ops: map[string]string{}}
	for _, p := range c.Participants {
		r.byID[p.ID] = p
		r.byArea[p.Area] = append(r.byArea[p.Area], p)
		r.byToken[p.Token] = p
	}
	for _, o := range c.Operators {
		r.ops[o.Token] = o.Name
	}
	return r
}

// Participant returns a participant by id.
func (r *Registry) Participant(id string) (Participant, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// All returns every participant, by id.
func (r *Registry) All() []Participant {
	out := make([]Participant, 0, len(r.byID))
	for _, p := range r.byID {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// candidates selects the participants that may be concerned by e, given the
// child's record (docs/policy-input.md, "candidates"): the child's area, the
// participants on the record, the publisher, the new area of a move, and the
// recipients a generated event names.
func (r *Registry) candidates(e *Event, x *IndexRecord) []Participant {
	seen := map[string]bool{}
	var out []Participant
	add := func(id string) {
		if p, ok := r.byID[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, p)
		}
	}
	addArea := func(area string) {
		for _, p := range r.byArea[area] {
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
		addArea(areaOf(e.Publisher))
	}
	add(e.Publisher)
	switch e.Name {
	case "index.address.changed", "index.transferred":
		addArea(str(e.Data["area"]))
	case residenceDisputed: // social care of each area it names (residence.go)
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
