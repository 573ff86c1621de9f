package policy

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

// Request is one decision to make: an event about a child, against the
// child's index record and consent as they stand for that decision.
type Request struct {
	Event   *event.Event
	Index   *api.IndexRecord // nil when the broker holds no record of the child
	Consent *api.Consent
	// Candidates are the participants to decide for. When nil they are
	// selected from the registry (docs/policy-input.md, "candidates"); the
	// impact analysis gives the audited ones, so that only the policy differs.
	Candidates []config.Participant
}

// Result is the answer to a Request: one decision per candidate, in
// candidate order, and the revision of the policy that made them. Err is set
// when the policy failed or answered out of contract; every decision is then
// a denial with basis policy-error (fail closed).
type Result struct {
	Decisions []api.Decision
	Revision  string
	Err       error
}

// Options tune a Decider.
type Options struct {
	// Timeout bounds one evaluation; past it the event is denied to
	// everyone. Default 1s.
	Timeout time.Duration
	// CacheKey, when set, returns the part of the policy input that the
	// decision depends on, used as the cache key instead of the whole input
	// (the impact analysis knows which paths a draft's rules read).
	CacheKey func(e *event.Event, input map[string]any) map[string]any
	// CacheSize bounds the decisions kept; default 100,000.
	CacheSize int
	// NoCache evaluates every request (the impact analysis's check that
	// grouping inputs changes nothing).
	NoCache bool
}

// Decider is the one place a sharing decision is made: the pipeline, explain,
// replay and impact all call Decide. It evaluates the policy once per event,
// caches decisions on exactly what the policy reads, and fails closed. The
// policy can be swapped while it serves (hot reload).
type Decider struct {
	current  atomic.Pointer[Policy]
	registry *config.Registry
	opts     Options
	cache    decisionCache
}

// NewDecider serves p for the participants of registry.
func NewDecider(p *Policy, registry *config.Registry, o Options) *Decider {
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.CacheSize == 0 {
		o.CacheSize = 100_000
	}
	d := &Decider{registry: registry, opts: o, cache: decisionCache{max: o.CacheSize}}
	d.current.Store(p)
	return d
}

// Policy returns the policy now serving.
func (d *Decider) Policy() *Policy { return d.current.Load() }

// Swap replaces the serving policy and forgets every cached decision.
func (d *Decider) Swap(p *Policy) {
	d.current.Store(p)
	d.cache.clear()
}

// Decide evaluates the policy once for the request and returns one decision
// per candidate. On any failure every candidate is denied with basis
// policy-error and Result.Err says why. Policy errors are never cached.
func (d *Decider) Decide(ctx context.Context, r Request) Result {
	p := d.current.Load()
	cands := r.Candidates
	if cands == nil {
		cands = candidates(d.registry, r.Event, r.Index)
	}
	input := Input(r.Event, r.Index, r.Consent, cands)
	keyIn := input
	if d.opts.CacheKey != nil {
		keyIn = d.opts.CacheKey(r.Event, input)
	}
	key, keyed := cacheKey(p.Revision, keyIn)
	keyed = keyed && !d.opts.NoCache
	if keyed {
		if hit, ok := d.cache.get(key); ok {
			return Result{Decisions: hit, Revision: p.Revision}
		}
	}
	decisions, err := p.eval(ctx, input, cands, d.opts.Timeout)
	if err != nil {
		return Result{Decisions: failClosed(cands, err), Revision: p.Revision, Err: err}
	}
	if keyed {
		d.cache.put(key, decisions)
	}
	return Result{Decisions: decisions, Revision: p.Revision}
}

// DecideFor is Decide for one participant. A participant the broker would not
// ask about the event (not a candidate) has no relationship with the child.
func (d *Decider) DecideFor(ctx context.Context, r Request, participant string) api.Decision {
	if r.Candidates == nil {
		r.Candidates = candidates(d.registry, r.Event, r.Index)
	}
	found := false
	for _, c := range r.Candidates {
		found = found || c.ID == participant
	}
	if !found {
		return api.Decision{Participant: participant, Basis: "no-relationship", Remove: []string{},
			Reason: "not a participant the broker asks about this child (rule 2)"}
	}
	for _, dec := range d.Decide(ctx, r).Decisions {
		if dec.Participant == participant {
			return dec
		}
	}
	return api.Decision{Participant: participant, Basis: "policy-error", Remove: []string{}, Reason: "the policy made no decision for this participant, so nothing is shared"}
}

// CacheStats reports decision cache hits and misses since start.
func (d *Decider) CacheStats() (hits, misses uint64) { return d.cache.stats() }

func failClosed(cands []config.Participant, err error) []api.Decision {
	out := make([]api.Decision, len(cands))
	for i, c := range cands {
		out[i] = api.Decision{Participant: c.ID, Basis: "policy-error", Remove: []string{}, Reason: "the policy failed, so nothing is shared: " + err.Error()}
	}
	return out
}
