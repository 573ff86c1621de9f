package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"sort"
)

// Registry indexes the configured participants so that selecting an event's
// candidates costs the same with 6 or 900 participants.
type Registry struct {
	byID   map[string]Participant
	byArea map[string][]Participant
	// secrets are the SHA-256 digests of every identity's HTTP token, from
	// token or token_hash; a presented token is compared with all of them.
	secrets []secret
}

// secret is one identity's token digest: a participant or an operator.
type secret struct {
	digest      [sha256.Size]byte
	participant *Participant
	operator    *Operator
}

// NewRegistry indexes a checked configuration.
func NewRegistry(c *Config) *Registry {
	r := &Registry{byID: map[string]Participant{}, byArea: map[string][]Participant{}}
	for _, p := range c.Participants {
		r.byID[p.ID] = p
		r.byArea[p.Area] = append(r.byArea[p.Area], p)
		if d, ok := digestOf(p.Token, p.TokenHash); ok {
			r.secrets = append(r.secrets, secret{digest: d, participant: &p})
		}
	}
	for _, o := range c.Operators {
		if d, ok := digestOf(o.Token, o.TokenHash); ok {
			r.secrets = append(r.secrets, secret{digest: d, operator: &o})
		}
	}
	return r
}

func digestOf(token, tokenHash string) ([sha256.Size]byte, bool) {
	if token != "" {
		return TokenDigest(token), true
	}
	d, err := parseTokenHash(tokenHash)
	return d, err == nil
}

// lookup finds the identity whose token is token. It compares the token's
// digest with every identity's in constant time and always compares all of
// them, so neither the answer's time nor its path depends on which
// identity, if any, matches.
func (r *Registry) lookup(token string) (secret, bool) {
	if token == "" {
		return secret{}, false
	}
	d := TokenDigest(token)
	found := -1
	for i := range r.secrets {
		if subtle.ConstantTimeCompare(d[:], r.secrets[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return secret{}, false
	}
	return r.secrets[found], true
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
	s, ok := r.lookup(token)
	if !ok || s.participant == nil {
		return Participant{}, false
	}
	return *s.participant, true
}

// OperatorByToken returns the name of the operator whose token is token.
func (r *Registry) OperatorByToken(token string) (string, bool) {
	o, ok := r.Operator(token)
	return o.Name, ok
}

// Operator returns the operator whose token is token, with its roles.
func (r *Registry) Operator(token string) (Operator, bool) {
	s, ok := r.lookup(token)
	if !ok || s.operator == nil {
		return Operator{}, false
	}
	return *s.operator, true
}

// Known reports whether token is any identity's, participant or operator:
// a token that is not is a failed authentication (throttled), one that is
// but is the wrong kind for a route is not.
func (r *Registry) Known(token string) bool {
	_, ok := r.lookup(token)
	return ok
}

// Serves reports whether any participant works in area.
func (r *Registry) Serves(area string) bool { return len(r.byArea[area]) > 0 }
