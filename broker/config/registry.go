package config

import (
	"sort"
)

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

// InArea returns the participants of an area, in configuration order.
func (r *Registry) InArea(area string) []Participant { return r.byArea[area] }

// ByToken returns the participant whose HTTP token is token.
func (r *Registry) ByToken(token string) (Participant, bool) {
	p, ok := r.byToken[token]
	return p, ok
}

// OperatorByToken returns the name of the operator whose token is token.
func (r *Registry) OperatorByToken(token string) (string, bool) {
	name, ok := r.ops[token]
	return name, ok
}

// Serves reports whether any participant works in area.
func (r *Registry) Serves(area string) bool { return len(r.byArea[area]) > 0 }
