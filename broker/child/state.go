package child

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
)

// State is what the broker holds about one child, in one KV entry so
// that an event's effect on it is one atomic write: the s.12(4) index record
// and the consent history. Nothing else may enter it (s.12(3)-(4), para 73):
// only index and consent events change it, field by field below.
type State struct {
	Index   *api.IndexRecord `json:"index,omitempty"`
	Consent *api.Consent     `json:"consent,omitempty"`
	// LastSeq is the ingest stream sequence of the last event applied, so a
	// redelivered event (after a crash) is recognised and not applied twice.
	LastSeq uint64 `json:"last_seq"`
	// Events are the ingest sequences of every event about the child, so
	// its history is read without scanning the stream (replay, SAR).
	Events []uint64 `json:"events,omitempty"`
	// IDs name those events, one for one (EventKey: a short hash of the
	// source and id, no child data), so that an event sent again after
	// JetStream's duplicate window is recognised as one already applied
	// (Sent) rather than decided and delivered a second time.
	IDs []string `json:"ids,omitempty"`
}

// EventKey names an event by its source and id in IDs.
func EventKey(source, id string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + id))
	return hex.EncodeToString(sum[:8])
}

// Sent returns the ingest sequence of the event from source with id that
// was applied to the child, if one was.
func (s State) Sent(source, id string) (uint64, bool) {
	k := EventKey(source, id)
	for i, v := range s.IDs {
		if v == k && i < len(s.Events) {
			return s.Events[i], true
		}
	}
	return 0, false
}

// Apply returns the state after event e (ingest sequence seq) and what it
// made of e: whether the index or consent changed, and what e did not change
// because an event with a later time had set it (order.go). It never
// changes s.
func (s State) Apply(e *event.Event, seq uint64) (State, Applied) {
	next := s.clone()
	next.LastSeq = seq
	next.IDs = append(padIDs(next.IDs, len(next.Events)), EventKey(e.Source, e.ID))
	next.Events = append(next.Events, seq)
	at := e.Time.UTC().Format(time.RFC3339)
	d := e.Data
	var res Applied
	if e.Name == "consent.granted" || e.Name == "consent.withdrawn" {
		if next.Consent == nil {
			next.Consent = &api.Consent{}
		}
		entry := api.ConsentEntry{Seq: seq, At: at, By: e.Publisher, EventID: e.ID,
			Purposes: list(d["purposes"]), Agencies: list(d["agencies"])}
		if e.Name == "consent.granted" {
			entry.Kind, entry.GivenBy, entry.Expires = "granted", str(d["given_by"]), str(d["expires"])
		} else {
			entry.Kind = "withdrawn"
		}
		insertConsent(next.Consent, entry, &res)
		res.Changed = true
		return next, res
	}
	if len(e.Name) < 6 || e.Name[:6] != "index." {
		return next, res
	}
	res.Changed = true
	fresh := next.Index == nil
	if fresh {
		next.Index = &api.IndexRecord{UIN: e.Subject, Area: AreaOf(e.Publisher)}
	}
	x := next.Index
	switch e.Name {
	case "index.child.registered":
		if take(x, "name", "name", e, &res) {
			x.Name = d["name"]
		}
		if take(x, "dob", "date of birth", e, &res) {
			x.DOB = str(d["dob"])
		}
		if take(x, "gender", "gender", e, &res) {
			x.Gender = str(d["gender"])
		}
		setResidence(x, e, fresh, &res)
	case "index.address.changed":
		setResidence(x, e, fresh, &res)
	case "index.carer.recorded":
		if take(x, carerKey(d), "carer", e, &res) {
			x.Carers = replaceBy(x.Carers, d, "name")
		}
	case "index.education.recorded":
		if take(x, "education", "education", e, &res) {
			x.Education = d
		}
	case "index.gp.recorded":
		if take(x, "gp", "GP practice", e, &res) {
			x.GP = d
		}
	case "index.practitioner.involved":
		p, _ := d["practitioner"].(map[string]any)
		if !take(x, practitionerKey("involvement", e.Publisher, p), "involvement", e, &res) {
			break
		}
		inv := api.Involvement{Participant: e.Publisher, Practitioner: p, Service: str(d["service"]), Active: true, Since: at}
		for i, old := range x.Involvements {
			if old.Participant == e.Publisher && samePerson(old.Practitioner, p) {
				x.Involvements = append(x.Involvements[:i:i], x.Involvements[i+1:]...)
				break
			}
		}
		x.Involvements = append(x.Involvements, inv)
	case "index.practitioner.ended":
		p, _ := d["practitioner"].(map[string]any)
		if !take(x, practitionerKey("involvement", e.Publisher, p), "involvement", e, &res) {
			break
		}
		for i := range x.Involvements {
			if inv := &x.Involvements[i]; inv.Participant == e.Publisher && inv.Active && samePerson(inv.Practitioner, p) {
				inv.Active, inv.Ended = false, at
			}
		}
	case "index.concern.flagged":
		p, _ := d["practitioner"].(map[string]any)
		if !take(x, practitionerKey("concern", e.Publisher, p), "concern flag", e, &res) {
			break
		}
		for i := range x.Concerns {
			if c := &x.Concerns[i]; c.Participant == e.Publisher && c.Active && samePerson(c.Practitioner, p) {
				c.Active, c.Withdrawn = false, at // superseded by the new flag below
			}
		}
		x.Concerns = append(x.Concerns, api.Concern{Participant: e.Publisher, Practitioner: p, FlaggedAt: at, Active: true})
	case "index.concern.withdrawn":
		p, _ := d["practitioner"].(map[string]any)
		if !take(x, practitionerKey("concern", e.Publisher, p), "concern flag", e, &res) {
			break
		}
		for i := range x.Concerns {
			if c := &x.Concerns[i]; c.Participant == e.Publisher && c.Active && samePerson(c.Practitioner, p) {
				c.Active, c.Withdrawn = false, at
			}
		}
	case "index.flags.set":
		if v, ok := d["shielded"].(bool); ok && take(x, "flags.shielded", "shielded flag", e, &res) {
			x.Flags.Shielded = v
		}
		if v, ok := d["care_leaver"].(bool); ok && take(x, "flags.care_leaver", "care leaver flag", e, &res) {
			x.Flags.CareLeaver = v
		}
		if v, ok := d["learning_difficulty"].(bool); ok && take(x, "flags.learning_difficulty", "learning difficulty flag", e, &res) {
			x.Flags.LearningDifficulty = v
		}
	}
	return next, res
}

// ActiveConcerns lists the active concern flags, oldest first.
func ActiveConcerns(x *api.IndexRecord) []api.Concern {
	if x == nil {
		return nil
	}
	var out []api.Concern
	for _, c := range x.Concerns {
		if c.Active {
			out = append(out, c)
		}
	}
	return out
}

// InvolvedWith reports whether participant has an active involvement.
func InvolvedWith(x *api.IndexRecord, participant string) bool {
	if x == nil {
		return false
	}
	for _, inv := range x.Involvements {
		if inv.Active && inv.Participant == participant {
			return true
		}
	}
	return false
}

// clone copies what Apply changes in place (the lists and the times); the
// other maps inside are only ever replaced whole, so they may be shared.
func (s State) clone() State {
	c := s
	c.Events = slices.Clone(s.Events)
	c.IDs = slices.Clone(s.IDs)
	if s.Index != nil {
		x := *s.Index
		x.Carers, x.Involvements, x.Concerns = slices.Clone(x.Carers), slices.Clone(x.Involvements), slices.Clone(x.Concerns)
		x.Times = maps.Clone(x.Times)
		c.Index = &x
	}
	if s.Consent != nil {
		k := api.Consent{Entries: slices.Clone(s.Consent.Entries)}
		c.Consent = &k
	}
	return c
}

// padIDs keeps IDs one for one with Events: a record written before IDs
// were kept has none for its earlier events.
func padIDs(ids []string, n int) []string {
	if len(ids) > n {
		return ids[:n]
	}
	for len(ids) < n {
		ids = append(ids, "")
	}
	return ids
}

func samePerson(a, b map[string]any) bool { return a != nil && b != nil && a["name"] == b["name"] }

func replaceBy(items []any, item map[string]any, key string) []any {
	for i, old := range items {
		if m, ok := old.(map[string]any); ok && m[key] == item[key] {
			items[i] = item
			return items
		}
	}
	return append(items, item)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func AreaOf(participant string) string {
	for i := 0; i < len(participant); i++ {
		if participant[i] == '/' {
			return participant[:i]
		}
	}
	return participant
}
