package govern

import (
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

// The kinds of the audit's records of what became of a policy.
const (
	ActionProposed  = "policy-proposed"
	ActionApproved  = "policy-approved"
	ActionRefused   = "policy-refused"
	ActionActivated = "policy-activated"
)

// actionRecord is the audit record of an action on the policy: on the
// operators' subject (no child), under the revision live when it was
// taken.
func actionRecord(revision string, a *api.AuditAction) api.AuditRecord {
	return api.AuditRecord{ChildKey: "_ops", Type: a.Kind, Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: revision, Outcome: a.Kind, Decisions: []api.Decision{}, Action: a}
}

// impactSummary is a draft's impact in one line for the audit (counts only:
// the samples name children).
func impactSummary(r *api.ImpactReport) string {
	if r == nil {
		return ""
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("%d of %d recorded events would be decided otherwise (%s)", r.ChangedEvents, r.Events+r.Generated,
		count(r.ChangedDecisions, "decision", "decisions")))
	for _, p := range r.Participants {
		var ch []string
		if p.EventsGained > 0 {
			ch = append(ch, count(p.EventsGained, "event more", "events more"))
		}
		if p.EventsLost > 0 {
			ch = append(ch, count(p.EventsLost, "event fewer", "events fewer"))
		}
		if p.BasisChanged > 0 {
			ch = append(ch, count(p.BasisChanged, "event", "events")+" on another basis")
		}
		if len(ch) > 0 {
			parts = append(parts, p.Participant+": "+strings.Join(ch, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// impactCounts are the impact's counts for the audit record.
func impactCounts(r *api.ImpactReport) map[string]int {
	if r == nil {
		return nil
	}
	return map[string]int{"events": r.Events + r.Generated, "changed_events": r.ChangedEvents, "changed_decisions": r.ChangedDecisions}
}

func count(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
