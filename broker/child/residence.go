package child

import (
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

// Where a child lives decides who hears about the child (rule 2), so the
// broker changes it only on evidence a person would accept, and asks a
// person when the evidence conflicts (docs/policies.md, "Residence").
//
//   - index.address.changed is a move: it sets the address and the area,
//     unless an event with a later time set them already (order.go).
//   - index.child.registered sets them too when it is the first the broker
//     hears of the child's residence, or when it comes from a participant of
//     the child's current area (a corrected registration). A registration
//     naming another area, from a participant outside the child's area, is a
//     claim about residence, not proof of it: a Leeds school census still
//     lists a child who has moved to York, a York practice registers a child
//     who still lives in Leeds. The child does not move on it alone; social
//     care of both areas receive index.residence.disputed to resolve it.
//   - A move to an area where no participant works is accepted (the address
//     is the best evidence the broker has), and social care of the area the
//     child left receives index.residence.disputed, so that someone still
//     has sight of the child.

// Reasons an index.residence.disputed event gives.
const (
	residenceClaimed  = "conflicting-registration"
	residenceUnserved = "area-without-participants"
	// ResidenceDisputed is the catalogue name of the review event.
	ResidenceDisputed  = "index.residence.disputed"
	residenceTimeKey   = "residence"
	residenceTimeWords = "address and area"
)

// setResidence applies the address and area of a registration or an address
// change to x. fresh is true when x was created for this event.
func setResidence(x *api.IndexRecord, e *event.Event, fresh bool, res *Applied) {
	area := str(e.Data["area"])
	if e.Name == "index.child.registered" && !fresh && x.Address != nil &&
		area != "" && area != x.Area && AreaOf(e.Publisher) != x.Area {
		if held := heldAt(x, residenceTimeKey); e.Time.Before(held) {
			res.supersede(residenceTimeWords, held) // the child has moved since: nothing to resolve
			return
		}
		res.Claim = area
		return
	}
	if !take(x, residenceTimeKey, residenceTimeWords, e, res) {
		return
	}
	x.Address = e.Data["address"]
	if area != "" && area != x.Area {
		x.PreviousArea, x.Area = x.Area, area
	}
}

// residenceReview is the data of the index.residence.disputed event that e
// calls for, if any: a claim Apply did not act on, or a move to an area the
// broker has no participant in. served reports whether an area has one.
func residenceReview(e *event.Event, before, after *api.IndexRecord, res Applied, served func(area string) bool) (map[string]any, bool) {
	d := map[string]any{"area": after.Area, "claimed_by": e.Publisher, "claimed_at": e.Time.UTC().Format(time.RFC3339Nano)}
	switch {
	case res.Claim != "":
		d["claimed_area"], d["reason"] = res.Claim, residenceClaimed
	case before != nil && after.Area != before.Area && !served(after.Area):
		d["claimed_area"], d["previous_area"], d["reason"] = after.Area, before.Area, residenceUnserved
	default:
		return nil, false
	}
	return d, true
}
