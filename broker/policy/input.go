package policy

import (
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

// decisionData are the data fields a sharing decision may depend on
// (docs/policy-input.md). Everything else in an event — names, addresses,
// contacts, free text — never reaches the policy: data minimisation, and
// what lets decisions be cached on exactly what the policy can read.
var decisionData = map[string]bool{
	"agencies": true, "purposes": true, "given_by": true, "expires": true, // consent
	"area": true, "previous_area": true, "claimed_area": true, "recipients": true, // moves, generated events
	"kind": true, "child_present": true, "significant_harm": true, "category": true, "status": true,
	"shielded": true, "care_leaver": true, "learning_difficulty": true, "flags": true, // index.flags.set, transfers
}

// Input builds the input of docs/policy-input.md from basic Go values
// only, so OPA converts it without a JSON round trip of its own. The event's
// time is given as its date (ages and consent expiry are counted in days).
func Input(e *event.Event, x *api.IndexRecord, c *api.Consent, candidates []config.Participant) map[string]any {
	data := make(map[string]any, 4)
	for k, v := range e.Data {
		if decisionData[k] {
			data[k] = v
		}
	}
	y, m, d := e.Time.UTC().Date()
	ev := map[string]any{"name": e.Name, "type": e.Type, "publisher": e.Publisher,
		"time": time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), "data": data}
	if e.Override != "" {
		ev["override"] = e.Override
	}
	cands := make([]any, len(candidates))
	for i, p := range candidates {
		cands[i] = map[string]any{"id": p.ID, "area": p.Area, "agency": p.Agency}
	}
	return map[string]any{"event": ev, "child": childInput(x), "consent": consentInput(c), "candidates": cands}
}

func childInput(x *api.IndexRecord) any {
	if x == nil {
		return nil
	}
	child := map[string]any{"area": x.Area, "flags": map[string]any{
		"shielded": x.Flags.Shielded, "care_leaver": x.Flags.CareLeaver, "learning_difficulty": x.Flags.LearningDifficulty}}
	if x.DOB != "" {
		child["dob"] = x.DOB
	}
	invs := make([]any, len(x.Involvements))
	for i, inv := range x.Involvements {
		invs[i] = map[string]any{"participant": inv.Participant, "active": inv.Active}
	}
	concerns := make([]any, len(x.Concerns))
	for i, cn := range x.Concerns {
		concerns[i] = map[string]any{"participant": cn.Participant, "active": cn.Active}
	}
	child["involvements"], child["concerns"] = invs, concerns
	return child
}

func consentInput(c *api.Consent) any {
	if c == nil {
		return nil
	}
	entries := make([]any, len(c.Entries))
	for i, e := range c.Entries {
		m := map[string]any{"seq": float64(e.Seq), "kind": e.Kind, "at": e.At, "by": e.By,
			"purposes": e.Purposes, "agencies": e.Agencies}
		if e.GivenBy != "" {
			m["given_by"] = e.GivenBy
		}
		if e.Expires != "" {
			m["expires"] = e.Expires
		}
		entries[i] = m
	}
	return map[string]any{"entries": entries}
}
