package api

import "encoding/json"

// ReplaySelection says which recorded events a replay takes. Every field is
// optional except the participant; the rest narrow the selection.
type ReplaySelection struct {
	Participant string   `json:"participant"`
	From        string   `json:"from,omitempty"` // recorded at or after (RFC 3339)
	To          string   `json:"to,omitempty"`   // recorded before
	FromSeq     uint64   `json:"from_seq,omitempty"`
	ToSeq       uint64   `json:"to_seq,omitempty"`
	Child       string   `json:"child,omitempty"` // a UIN; never stored: the audit keeps the child key
	Types       []string `json:"types,omitempty"` // catalogue names (caf.completed) or types
	DryRun      bool     `json:"dry_run,omitempty"`
}

// ReplayItem is what a replay (or a backfill) did with one event.
type ReplayItem struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	// Outcome is delivered, already-delivered, denied, or refused (the
	// copy was sent and the participant's delivery limit refused it); in a
	// dry run would-deliver instead of delivered.
	Outcome string `json:"outcome"`
	Basis   string `json:"basis"`
	Reason  string `json:"reason,omitempty"`
	Removed int    `json:"removed,omitempty"`
	// Recorded is what the decision recorded when the event was decided
	// said for the participant: allowed, denied (with its basis), or none
	// (no decision for it was recorded: it was not a participant then).
	Recorded string `json:"recorded,omitempty"`
	// NewlyDisclosed (backfill only) marks a copy that discloses what the
	// recorded decision did not: the event itself, or NewFields of it.
	NewlyDisclosed bool     `json:"newly_disclosed,omitempty"`
	NewFields      []string `json:"new_fields,omitempty"`
	DeliverySeq    uint64   `json:"delivery_seq,omitempty"`
}

// ReplayResult is the answer of a replay or a backfill.
type ReplayResult struct {
	ID               string          `json:"id"`
	Operation        string          `json:"operation"` // replay, backfill
	DryRun           bool            `json:"dry_run,omitempty"`
	Operator         string          `json:"operator"`
	Selection        ReplaySelection `json:"selection"`
	PolicyRevision   string          `json:"policy_revision"`
	Children         int             `json:"children"`
	Selected         int             `json:"selected"`
	AlreadyDelivered int             `json:"already_delivered"`
	Delivered        int             `json:"delivered"`
	Refused          int             `json:"refused,omitempty"` // sent and refused by the participant's delivery limit
	Denied           int             `json:"denied"`
	DeniedBy         map[string]int  `json:"denied_by,omitempty"`
	// NewlyDisclosed (backfill) counts the copies that disclose what the
	// decisions recorded at the time did not.
	NewlyDisclosed int `json:"newly_disclosed,omitempty"`
	// Impact (backfill) fingerprints the copies the backfill sends; a
	// dry run's is what its confirmation must match. Confirms names the
	// dry run a confirmed backfill carried out.
	Impact         string       `json:"impact,omitempty"`
	Confirms       string       `json:"confirms,omitempty"`
	Items          []ReplayItem `json:"items"`
	ItemsTruncated bool         `json:"items_truncated,omitempty"`
}

// BackfillRequest is the body of POST /v1/backfill: a selection, as for a
// replay, and Confirm. Without Confirm the backfill is a dry run: it sends
// nothing and answers what it would send, with an id. Confirm is that id:
// the backfill then sends exactly what the dry run showed, or nothing (409)
// when that has changed since.
type BackfillRequest struct {
	ReplaySelection
	Confirm string `json:"confirm,omitempty"`
}

// ImpactRequest is the body of POST /v1/impact.
type ImpactRequest struct {
	Modules map[string]string `json:"modules"` // file name → Rego source or data document (matrix.yaml, legend.yaml) of the draft (_test.rego files are ignored)
	From    string            `json:"from,omitempty"`
	To      string            `json:"to,omitempty"`
	Samples int               `json:"samples,omitempty"` // changed decisions to show (default 20)
}

// ImpactReport compares the draft's decisions with the audited ones.
type ImpactReport struct {
	DraftRevision   string `json:"draft_revision"`
	CurrentRevision string `json:"current_revision"`
	From            string `json:"from,omitempty"`
	To              string `json:"to,omitempty"`
	// Events and Generated count the decided events (and broker-generated
	// events) whose decision falls in the range.
	Events    int `json:"events"`
	Generated int `json:"generated"`
	// ChangedRules are the rules the draft changes; AffectedTypes the event
	// types they can reach (all, when the analysis could not tell).
	ChangedRules  []string `json:"changed_rules"`
	AffectedTypes []string `json:"affected_types"`
	// Evaluated counts the decisions evaluated again with the draft;
	// Unaffected those of types no change reaches; OtherRevision the
	// records of another policy revision (always evaluated); Missing the
	// audited events no longer held (erased or expired), not evaluated.
	Evaluated     int `json:"evaluated"`
	Unaffected    int `json:"unaffected"`
	OtherRevision int `json:"other_revision"`
	Missing       int `json:"missing"`
	// PolicyEvaluations counts the times the draft was evaluated: once per
	// distinct input of what its rules read, the other Evaluated decisions
	// answered from an equal input.
	PolicyEvaluations int `json:"policy_evaluations"`
	// ChangedEvents counts events with at least one changed decision;
	// ChangedDecisions the (event, participant) pairs that changed.
	ChangedEvents    int                 `json:"changed_events"`
	ChangedDecisions int                 `json:"changed_decisions"`
	Participants     []ParticipantImpact `json:"participants"`
	Samples          []ImpactSample      `json:"samples"`
	Seconds          float64             `json:"seconds"`
	AuditSeconds     float64             `json:"audit_seconds"`    // reading the audit
	EvaluateSeconds  float64             `json:"evaluate_seconds"` // reading the events, deciding again
}

// ParticipantImpact is what the draft changes for one participant.
type ParticipantImpact struct {
	Participant    string `json:"participant"`
	EventsGained   int    `json:"events_gained"`
	EventsLost     int    `json:"events_lost"`
	ChildrenGained int    `json:"children_gained"`
	ChildrenLost   int    `json:"children_lost"`
	BasisChanged   int    `json:"basis_changed"` // still received, on another basis
	// Fields newly disclosed to the participant (now in its copy, before
	// removed or not sent) and newly withheld, with the number of events.
	FieldsDisclosed map[string]int `json:"fields_disclosed"`
	FieldsWithheld  map[string]int `json:"fields_withheld"`
}

// ImpactSample is one changed decision with both bases.
type ImpactSample struct {
	Seq         uint64   `json:"seq"`
	EventID     string   `json:"event_id"`
	Type        string   `json:"type"`
	EventTime   string   `json:"event_time"`
	ChildKey    string   `json:"child_key"`
	Child       string   `json:"child"` // masked UIN
	Participant string   `json:"participant"`
	Current     Decision `json:"current"`
	CurrentRev  string   `json:"current_revision"`
	Draft       Decision `json:"draft"`
}

// SubjectAccess is the export of everything held about one child.
type SubjectAccess struct {
	Child       string       `json:"child"`
	ChildKey    string       `json:"child_key"`
	GeneratedAt string       `json:"generated_at"`
	GeneratedBy string       `json:"generated_by"`
	Index       *IndexRecord `json:"index"`   // the s.12(4) index record now held
	Consent     *Consent     `json:"consent"` // every grant and withdrawal, in the order applied
	// Events are the events about the child held in the ingest stream, as
	// published, with when the broker recorded them.
	Events []HeldEvent `json:"events"`
	// Rejected are inputs naming the child that were refused, as held in
	// the dead letters.
	Rejected []HeldRejection `json:"rejected"`
	// Decisions are every audit record about the child, oldest first: each
	// decided event with every participant's decision, allowed or denied,
	// replays, erasures and earlier subject access exports.
	Decisions []AuditRecord `json:"decisions"`
	// Disclosures are the copies of the child's events that participants
	// were sent, as stored (status delivered), one per copy, oldest first:
	// the disclosures of the child's data. A copy whose decision is
	// recorded but whose outcome is not (status unconfirmed: the broker
	// stopped in between, or the record predates copy records) is listed
	// too, as it may have been disclosed.
	Disclosures []Disclosure `json:"disclosures"`
	// Refused are the copies allowed but never stored (status refused),
	// with the reason: nothing of them was disclosed, unless a later replay
	// delivered them (ResolvedBy; that copy is then in Disclosures).
	Refused []Disclosure `json:"refused"`
	// Gaps say, in words, what this report should hold but cannot show:
	// audit records the store lost (a damaged block), decided events whose
	// decision record is missing, a broken audit chain. Empty when the
	// report is complete as far as the broker can tell.
	Gaps []string `json:"gaps"`
}

// HeldEvent is one stored event.
type HeldEvent struct {
	Seq       uint64          `json:"seq"`
	Recorded  string          `json:"recorded"`
	Publisher string          `json:"publisher"`
	Event     json.RawMessage `json:"event"`
}

// HeldRejection is a refused input naming the child.
type HeldRejection struct {
	Seq        uint64     `json:"seq"`
	DeadLetter DeadLetter `json:"dead_letter"`
}

// Disclosure is one copy of an event about the child for a participant, as
// the audit recorded it once the copy's publish resolved.
type Disclosure struct {
	Participant    string   `json:"participant"`
	EventID        string   `json:"event_id"`
	Type           string   `json:"type"`
	Source         string   `json:"source"`
	EventTime      string   `json:"event_time"`
	DecidedAt      string   `json:"decided_at"`
	Basis          string   `json:"basis"`
	Removed        []string `json:"removed"`
	PolicyRevision string   `json:"policy_revision"`
	Review         bool     `json:"review,omitempty"`
	Replay         string   `json:"replay,omitempty"`    // the replay or backfill that sent it
	Operation      string   `json:"operation,omitempty"` // replay, backfill; empty for the pipeline
	// Status is delivered, refused or unconfirmed (see SubjectAccess).
	Status        string `json:"status"`
	DeliverySeq   uint64 `json:"delivery_seq,omitempty"` // the copy in ECM_DELIVERY
	StoredAt      string `json:"stored_at,omitempty"`
	RefusedReason string `json:"refused_reason,omitempty"`
	DeadLetterSeq uint64 `json:"deadletter_seq,omitempty"` // a refused copy kept in the dead letters
	ResolvedBy    string `json:"resolved_by,omitempty"`    // a refused copy delivered later: by this replay
}

// Disclosure statuses beside the copy statuses.
const DisclosureUnconfirmed = "unconfirmed"

// EventDisclosures is one of a publisher's events and who received it:
// Recipients hold the copies stored (and unconfirmed ones), Refused the
// copies allowed but refused.
type EventDisclosures struct {
	EventID    string       `json:"event_id"`
	Type       string       `json:"type"`
	EventTime  string       `json:"event_time"`
	Recipients []Disclosure `json:"recipients"`
	Refused    []Disclosure `json:"refused,omitempty"`
}

// ErasureResult says what an erasure removed.
type ErasureResult struct {
	ID          string `json:"id"`
	ChildKey    string `json:"child_key"`
	Operator    string `json:"operator"`
	Reason      string `json:"reason"`
	At          string `json:"at"`
	IndexRecord bool   `json:"index_record"` // a record (index and consent) was held and is gone
	Ingest      int    `json:"ingest"`       // events deleted from ECM_INGEST
	Deliveries  int    `json:"deliveries"`   // copies deleted from ECM_DELIVERY
	DeadLetters int    `json:"dead_letters"` // rejected inputs deleted from ECM_DEADLETTER
}

// ErasureRequest is the body of POST /v1/erase.
type ErasureRequest struct {
	Child  string `json:"child"`
	Reason string `json:"reason"`
}

// SweepResult says what one retention sweep removed.
type SweepResult struct {
	CaseEvents int `json:"case_events"` // case events deleted from ECM_INGEST
	Children   int `json:"children"`    // children erased
}

// DisclosureList is GET /v1/disclosures: the asking participant's events
// about a child, each with who received it.
type DisclosureList struct {
	Child       string             `json:"child"`
	Participant string             `json:"participant"`
	Events      []EventDisclosures `json:"events"`
	// Gaps name what the list cannot show (a record lost from the audit, a
	// broken chain); empty when it is complete as far as the broker can tell.
	Gaps []string `json:"gaps"`
}
