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

// ReplayItem is what a replay did with one event.
type ReplayItem struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Outcome string `json:"outcome"` // delivered, already-delivered, denied (would-deliver in a dry run)
	Basis   string `json:"basis"`
	Reason  string `json:"reason,omitempty"`
	Removed int    `json:"removed,omitempty"`
}

// ReplayResult is the answer of a replay.
type ReplayResult struct {
	ID               string          `json:"id"`
	Operator         string          `json:"operator"`
	Selection        ReplaySelection `json:"selection"`
	PolicyRevision   string          `json:"policy_revision"`
	Children         int             `json:"children"`
	Selected         int             `json:"selected"`
	AlreadyDelivered int             `json:"already_delivered"`
	Delivered        int             `json:"delivered"`
	Denied           int             `json:"denied"`
	DeniedBy         map[string]int  `json:"denied_by,omitempty"`
	Items            []ReplayItem    `json:"items"`
	ItemsTruncated   bool            `json:"items_truncated,omitempty"`
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
	// Disclosures are the allowed decisions, one per copy a participant
	// received: the disclosures of the child's data.
	Disclosures []Disclosure `json:"disclosures"`
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

// Disclosure is one copy of an event about the child that a participant
// received.
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
	Replay         string   `json:"replay,omitempty"` // the replay that delivered it
}

// EventDisclosures is one of a publisher's events and who received it.
type EventDisclosures struct {
	EventID    string       `json:"event_id"`
	Type       string       `json:"type"`
	EventTime  string       `json:"event_time"`
	Recipients []Disclosure `json:"recipients"`
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
}
