package child

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

// Child state follows the events' own time, not their arrival (spec rule 5;
// docs/policies.md, "Event time"). Agencies export in batches: a school
// census taken in September may reach the broker after a move in December.
// So each part of the index record keeps the time of the event that set it
// (IndexRecord.Times), consent entries stay sorted by their time, and an
// event older than the value it would replace leaves that value alone. It is
// still decided, delivered and audited as any other event; the audit record
// says what it did not change (Applied.Note).
//
// Ties go to the later arrival: an event as old as the value it replaces
// replaces it, as it always did. A state stored before times were kept has
// none: each of its values counts as set at time zero.

// Applied says what Apply made of an event, beyond the new state.
type Applied struct {
	// Changed is true when the event is of a kind that changes the index
	// record or the consent history.
	Changed bool
	// Superseded names, in words (never values), what the event would have
	// set but an event with a later time had set already.
	Superseded []string
	// Latest is the time of the newest event that superseded it.
	Latest time.Time
	// Claim is the area a registration named without moving the child: a
	// claim about residence, for a person to resolve (residence.go).
	Claim string
}

func (a *Applied) supersede(what string, by time.Time) {
	if !slices.Contains(a.Superseded, what) {
		a.Superseded = append(a.Superseded, what)
	}
	if by.After(a.Latest) {
		a.Latest = by
	}
}

// Note is the audit record's sentence about what the event did not change,
// empty when it changed all it named. It names fields and times only: no
// value from the event or the record (nothing a child could be found by).
func (a Applied) Note() string {
	var parts []string
	if len(a.Superseded) > 0 {
		parts = append(parts, fmt.Sprintf("superseded: an event dated %s had already set the %s; this older event did not change them",
			a.Latest.UTC().Format(time.RFC3339), strings.Join(a.Superseded, ", ")))
	}
	if a.Claim != "" {
		parts = append(parts, "a registration naming an area other than the child's, from a participant outside the child's area: "+
			"a claim about residence, not a move; the address and area were kept and index.residence.disputed sent for review")
	}
	return strings.Join(parts, "; ")
}

// heldAt is the time of the event that last set key, zero when none did.
func heldAt(x *api.IndexRecord, key string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, x.Times[key])
	return t
}

// take reports whether e may set the part of the record kept under key: it
// is not older than the event that set it last. When it may, the key takes
// e's time; when not, res records what (in words) e did not change.
func take(x *api.IndexRecord, key, what string, e *event.Event, res *Applied) bool {
	held := heldAt(x, key)
	if e.Time.Before(held) {
		res.supersede(what, held)
		return false
	}
	if x.Times == nil {
		x.Times = map[string]string{}
	}
	x.Times[key] = e.Time.UTC().Format(time.RFC3339Nano)
	return true
}

// Keys of IndexRecord.Times for the parts of the record kept per person: a
// carer by name, an involvement or concern by participant and practitioner.
func carerKey(d map[string]any) string { return "carer/" + str(d["name"]) }

func practitionerKey(kind, participant string, p map[string]any) string {
	return kind + "/" + participant + "/" + str(p["name"])
}

// insertConsent adds a grant or withdrawal in time order (then arrival order, seq),
// the order in which the policy reads the history (policies/consent.rego),
// and records in res each purpose and agency kind for which a later entry
// already decides.
func insertConsent(c *api.Consent, n api.ConsentEntry, res *Applied) {
	at := consentTime(n.At)
	i := len(c.Entries)
	for i > 0 && consentTime(c.Entries[i-1].At).After(at) {
		i--
	}
	for _, later := range c.Entries[i:] {
		for _, p := range n.Purposes {
			for _, a := range n.Agencies {
				if slices.Contains(later.Purposes, p) && slices.Contains(later.Agencies, a) {
					res.supersede(fmt.Sprintf("consent for %v to %v", p, a), consentTime(later.At))
				}
			}
		}
	}
	c.Entries = slices.Insert(c.Entries, i, n)
}

func consentTime(at string) time.Time {
	t, _ := time.Parse(time.RFC3339, at)
	return t
}
