package ops

import (
	"context"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/policy"
)

// Explain says what the serving policy would decide for a validated event
// against the child's state now, and for the events it would generate,
// delivering nothing.
func (b *Ops) Explain(ctx context.Context, ev *event.Event) (api.Explanation, error) {
	st, _, err := b.children.Get(ctx, b.children.Key(ev.Subject))
	if err != nil {
		return api.Explanation{}, err
	}
	return b.ExplainState(ctx, ev, st), nil
}

// ExplainState is Explain against a given state of the child rather than
// the one held: a what-if (POST /v1/whatif) about a hypothetical child. It
// reads, stores and changes nothing, and delivers nothing.
func (b *Ops) ExplainState(ctx context.Context, ev *event.Event, st child.State) api.Explanation {
	out := b.explain(ctx, ev, st.Index, st.Consent)
	step := st.Next(ev, st.LastSeq+1, b.registry.Serves)
	out.Superseded, out.Note = len(step.Applied.Superseded) > 0, step.Applied.Note()
	for _, g := range step.Generated {
		out.Generated = append(out.Generated, b.explain(ctx, g, step.After.Index, step.After.Consent))
	}
	return out
}

func (b *Ops) explain(ctx context.Context, e *event.Event, x *api.IndexRecord, c *api.Consent) api.Explanation {
	res := b.decider.Decide(ctx, policy.Request{Event: e, Index: x, Consent: c})
	out := api.Explanation{EventID: e.ID, Type: e.Type, Publisher: e.Publisher, AsOf: e.Time.UTC().Format(time.RFC3339),
		PolicyRevision: res.Revision, ChildKnown: x != nil, Decisions: res.Decisions}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	return out
}
