package ops

// The reviewed subject-access report (POST /v1/sar/review): an IG lead
// withholds items of the report from the copy given to the requester —
// another person's data (third-party) or an item an exemption covers
// (exempt) — each with its reason. What is released and what is withheld is
// one answer, so the two lists are kept together; the audit records the
// review on the child's subject with the counts withheld by ground, never the
// reasons (they are the IG lead's words and may describe the child).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

// ErrBadReview is a review the report does not fit: an item it does not
// hold, a ground or reason missing.
var ErrBadReview = errors.New("review not possible")

// Withholding grounds.
const (
	GroundThirdParty = "third-party"
	GroundExempt     = "exempt"
)

// ReviewSubjectAccess gathers the child's report, takes out the withheld
// items and audits the export of what is left.
func (b *Ops) ReviewSubjectAccess(ctx context.Context, operator string, req api.SARReviewRequest) (*api.ReviewedSubjectAccess, error) {
	for i, w := range req.Withhold {
		if w.Ground != GroundThirdParty && w.Ground != GroundExempt {
			return nil, fmt.Errorf("%w: withhold[%d].ground: must be %q or %q", ErrBadReview, i, GroundThirdParty, GroundExempt)
		}
		if len([]rune(strings.TrimSpace(w.Reason))) < 5 {
			return nil, fmt.Errorf("%w: withhold[%d].reason: say why the item is withheld, in at least 5 characters", ErrBadReview, i)
		}
	}
	sa, err := b.gatherSubjectAccess(ctx, operator, req.Child)
	if err != nil {
		return nil, err
	}
	withheld := make([]api.WithheldItem, 0, len(req.Withhold))
	counts := map[string]int{}
	for i, w := range req.Withhold {
		if err := withhold(sa, w); err != nil {
			return nil, fmt.Errorf("%w: withhold[%d]: %v", ErrBadReview, i, err)
		}
		withheld = append(withheld, w)
		counts["withheld_"+strings.ReplaceAll(w.Ground, "-", "_")]++
	}
	if err := b.auditSubjectAccess(ctx, sa, "subject-access-review", counts); err != nil {
		return nil, err // not released unless the release is audited
	}
	return &api.ReviewedSubjectAccess{Report: *sa, Withheld: withheld, ReviewedBy: operator,
		ReviewedAt: time.Now().UTC().Format(time.RFC3339Nano)}, nil
}

// withhold removes the item w names from sa, or says it is not there (or
// withheld twice: the second finds nothing).
func withhold(sa *api.SubjectAccess, w api.WithheldItem) error {
	switch w.Kind {
	case "event":
		n := len(sa.Events)
		sa.Events = filter(sa.Events, func(e api.HeldEvent) bool { return e.Seq != w.Seq })
		if len(sa.Events) == n {
			return fmt.Errorf("the report holds no event with seq %d", w.Seq)
		}
	case "rejected":
		n := len(sa.Rejected)
		sa.Rejected = filter(sa.Rejected, func(r api.HeldRejection) bool { return r.Seq != w.Seq })
		if len(sa.Rejected) == n {
			return fmt.Errorf("the report holds no rejected input with seq %d", w.Seq)
		}
	case "decision":
		// An audit record is named by the event it decides (its event_id;
		// the decision and the record of its copies go together) or, for an
		// operator's action, by the action's id.
		n := len(sa.Decisions)
		sa.Decisions = filter(sa.Decisions, func(r api.AuditRecord) bool {
			return w.ID == "" || r.EventID != w.ID && (r.Action == nil || r.Action.ID != w.ID)
		})
		if len(sa.Decisions) == n {
			return fmt.Errorf("the report holds no decision record with id %q (an event_id, or an action's id)", w.ID)
		}
	case "disclosure":
		keep := func(d api.Disclosure) bool { return d.EventID != w.EventID || d.Participant != w.Participant }
		n := len(sa.Disclosures) + len(sa.Refused)
		sa.Disclosures, sa.Refused = filter(sa.Disclosures, keep), filter(sa.Refused, keep)
		if len(sa.Disclosures)+len(sa.Refused) == n {
			return fmt.Errorf("the report holds no disclosure of event %q to %q", w.EventID, w.Participant)
		}
	default:
		return fmt.Errorf("kind: must be event, decision, disclosure or rejected, not %q", w.Kind)
	}
	return nil
}

func filter[T any](in []T, keep func(T) bool) []T {
	out := in[:0:0]
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
