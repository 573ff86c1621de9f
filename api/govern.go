package api

import "encoding/json"

// This file holds the shapes of the IG lead's and operator's endpoints the
// console (broker/console) and ecmctl share: the live policy and its
// history, proposals with their checks, impact and four-eyes approval,
// what-if decisions, dead-letter triage, the reviewed subject-access report
// and the operations overview. Routes (all under an operator's token or a
// console session; the role each needs in brackets):
//
//	GET  /v1/policy                          [read]   PolicyLive
//	GET  /v1/policy/revisions                [read]   []PolicyRevision (newest first)
//	GET  /v1/policy/revisions/{rev}          [read]   PolicyRevision with Files
//	GET  /v1/policy/proposals                [read]   []Proposal (without Files)
//	POST /v1/policy/proposals                [policy] ProposalRequest → Proposal (201)
//	GET  /v1/policy/proposals/{id}           [read]   Proposal with Files, Diff, Checks, Impact
//	POST /v1/policy/proposals/{id}/approve   [policy] ProposalVerdict → Proposal (not the author's own)
//	POST /v1/policy/proposals/{id}/refuse    [policy] ProposalVerdict → Proposal
//	POST /v1/whatif                          [read]   WhatIfRequest → Explanation
//	POST /v1/deadletters/{seq}/resolve       [replay] DeadLetterResolve → DeadLetterTriage
//	POST /v1/deadletters/{seq}/resubmit      [replay] DeadLetterResubmit → DeadLetterTriage
//	POST /v1/sar/review                      [read]   SARReviewRequest → ReviewedSubjectAccess
//	GET  /v1/operations                      [read]   Operations

// PolicyLive is the policy now deciding: its revision, how it became live,
// and its sharing matrix as rows a person reads.
type PolicyLive struct {
	Revision  PolicyRevision `json:"revision"`
	Matrix    []MatrixRow    `json:"matrix"`
	Reloading string         `json:"reloading"` // "off", or the watched directory (--policy-watch)
	Refused   string         `json:"refused,omitempty"`
}

// MatrixRow is one cell of the sharing matrix in words: for an event type,
// an agency and its relationship to the child, what is shared and why.
type MatrixRow struct {
	EventType    string   `json:"event_type"`
	Agency       string   `json:"agency"`       // agency code (AgencyName is its display name)
	AgencyName   string   `json:"agency_name"`  // e.g. "Youth offending team"
	Relationship string   `json:"relationship"` // e.g. "involved with the child", "otherwise"
	Shared       bool     `json:"shared"`
	Basis        string   `json:"basis"`
	Removed      []string `json:"removed"`
	Reason       string   `json:"reason"`              // a sentence an IG lead or family can read
	Source       string   `json:"source"`              // legal source, e.g. "Children Act 2004 s.12(4)"
	When         string   `json:"when,omitempty"`      // the condition the cell applies under, in words
	Agreement    string   `json:"agreement,omitempty"` // the data sharing agreement it relies on (agreements.yaml)
}

// PolicyRevision is one policy that was live, or is live now.
type PolicyRevision struct {
	Revision    string            `json:"revision"`
	LiveFrom    string            `json:"live_from"`            // RFC 3339
	LiveUntil   string            `json:"live_until,omitempty"` // empty while live
	Origin      string            `json:"origin"`               // "start", "reload" or "proposal"
	Proposal    string            `json:"proposal,omitempty"`   // the proposal approved, when Origin is proposal
	ProposedBy  string            `json:"proposed_by,omitempty"`
	ApprovedBy  string            `json:"approved_by,omitempty"`
	Title       string            `json:"title,omitempty"`
	Files       map[string]string `json:"files,omitempty"` // file name → content (GET of one revision)
	FileDigests map[string]string `json:"file_digests,omitempty"`
}

// ProposalRequest is a draft policy put forward for approval. Files are the
// draft's changed or added files (Rego, matrix.yaml, legend.yaml, scenario
// tables, tests) laid over the live revision; Delete names live files the
// draft removes.
type ProposalRequest struct {
	Title  string            `json:"title"`
	Reason string            `json:"reason"`
	Files  map[string]string `json:"files"`
	Delete []string          `json:"delete,omitempty"`
}

// Proposal states.
const (
	ProposalOpen     = "open"     // checks passed or failed; awaiting a verdict
	ProposalApproved = "approved" // became the live revision
	ProposalRefused  = "refused"
	ProposalStale    = "stale" // the live revision changed after it was proposed: propose again
)

// Proposal is a draft policy with what the broker found about it.
type Proposal struct {
	ID            string          `json:"id"`
	Title         string          `json:"title"`
	Reason        string          `json:"reason"`
	Author        string          `json:"author"`
	Created       string          `json:"created"`
	BaseRevision  string          `json:"base_revision"`  // live when proposed
	DraftRevision string          `json:"draft_revision"` // the revision it becomes if approved
	State         string          `json:"state"`
	Checks        []ProposalCheck `json:"checks"`
	ChecksPassed  bool            `json:"checks_passed"`
	// Impact is the draft's effect over recorded history; nil while it is
	// still being computed (ImpactState says so) or when it failed.
	Impact      *ImpactReport     `json:"impact,omitempty"`
	ImpactState string            `json:"impact_state"`   // "running", "done", "failed: <why>"
	Diff        string            `json:"diff,omitempty"` // unified diff to the base revision
	Files       map[string]string `json:"files,omitempty"`
	Delete      []string          `json:"delete,omitempty"`
	Verdict     *ProposalVerdict  `json:"verdict,omitempty"`
}

// ProposalCheck is one check a draft must pass before it may be approved:
// "compile", "policy tests", "scenario tables", "contract" (the matrix and
// legend against the catalogue). Problems say what failed, in words.
type ProposalCheck struct {
	Name     string   `json:"name"`
	Passed   bool     `json:"passed"`
	Summary  string   `json:"summary"`
	Problems []string `json:"problems,omitempty"`
}

// ProposalVerdict is the body of approve and refuse, and what was decided.
type ProposalVerdict struct {
	Reason  string `json:"reason"`
	By      string `json:"by,omitempty"`      // set by the broker
	At      string `json:"at,omitempty"`      // set by the broker
	Verdict string `json:"verdict,omitempty"` // approved or refused, set by the broker
}

// WhatIfRequest asks what the live policy would decide for an event about a
// hypothetical child, without publishing, storing or reading any real
// child's state. Event is a structured CloudEvent as POST /v1/decide takes;
// Child and Consent are the state to decide against (nil: a child the broker
// does not know).
type WhatIfRequest struct {
	Event   json.RawMessage `json:"event"`
	Child   *IndexRecord    `json:"child,omitempty"`
	Consent *Consent        `json:"consent,omitempty"`
}

// DeadLetterResolve marks a dead letter as dealt with. Note is required: what
// was done, in words. Notes are operator text shown to every operator who
// lists the dead letters, so they must not carry child data (names, dates of
// birth, UINs, addresses); they are erased with their dead letter all the
// same, and the audit never holds them.
type DeadLetterResolve struct {
	Note string `json:"note"`
}

// DeadLetterResubmit publishes a corrected body on the publisher's behalf,
// through the same ingest and checks as POST /v1/events: the event's source
// must be the dead letter's publisher. A body still wrong is answered 422
// with the DeadLetterTriage's Problems and Accepted false; nothing is then
// published or stored, and the dead letter stays open. Note as in
// DeadLetterResolve (no child data).
type DeadLetterResubmit struct {
	Event json.RawMessage `json:"event"` // the corrected structured CloudEvent
	Note  string          `json:"note"`
}

// DeadLetterTriage is what an operator did about a dead letter. GET
// /v1/deadletters lists it on the dead letter (DeadLetter.Triage);
// ?open=true lists only the dead letters without one (and not a refused
// copy a replay delivered).
type DeadLetterTriage struct {
	Seq      uint64    `json:"seq"`
	Action   string    `json:"action"` // "resolved" or "resubmitted"
	Note     string    `json:"note"`
	By       string    `json:"by"`
	At       string    `json:"at"`
	EventID  string    `json:"event_id,omitempty"` // the resubmitted event
	Accepted bool      `json:"accepted,omitempty"` // the resubmitted event was accepted
	Problems []Problem `json:"problems,omitempty"` // why a resubmitted body was refused
}

// SARReviewRequest is an IG lead's review of a subject-access report: the
// items to withhold from the copy given to the requester, each with why.
type SARReviewRequest struct {
	Child    string         `json:"child"`
	Withhold []WithheldItem `json:"withhold"`
}

// WithheldItem is one item of a subject-access report withheld. Kind is
// "event" (Seq of the ingest stream), "decision" (the audit record's ID),
// "disclosure" (EventID and Participant) or "rejected" (dead-letter Seq).
// Ground is "third-party" or "exempt"; Reason says why in words.
type WithheldItem struct {
	Kind        string `json:"kind"`
	Seq         uint64 `json:"seq,omitempty"`
	ID          string `json:"id,omitempty"`
	EventID     string `json:"event_id,omitempty"`
	Participant string `json:"participant,omitempty"`
	Ground      string `json:"ground"`
	Reason      string `json:"reason"`
}

// ReviewedSubjectAccess is the report as released: the export with the
// withheld items taken out, and a list of what was withheld and why.
type ReviewedSubjectAccess struct {
	Report     SubjectAccess  `json:"report"`
	Withheld   []WithheldItem `json:"withheld"`
	ReviewedBy string         `json:"reviewed_by"`
	ReviewedAt string         `json:"reviewed_at"`
}

// Operations is the operator's overview.
type Operations struct {
	Ready         bool                 `json:"ready"`
	Checks        map[string]string    `json:"checks"` // as /readyz
	AuditChain    AuditChainStatus     `json:"audit_chain"`
	Policy        string               `json:"policy_revision"`
	Reload        string               `json:"policy_reload"` // "off", "watching <dir>", "refused: <why>"
	Participants  []ParticipantBacklog `json:"participants"`
	RefusedCopies int                  `json:"refused_copies"` // copies refused and not yet delivered
	DeadLetters   int                  `json:"dead_letters"`   // not yet dealt with (as ?open=true lists them; refused copies included)
	Replays       []AuditRecord        `json:"recent_replays"` // newest first, at most 20
}

// ParticipantBacklog is how far behind one participant is in reading its
// copies: who is not reading.
type ParticipantBacklog struct {
	Participant string `json:"participant"`
	Name        string `json:"name"`
	Waiting     uint64 `json:"waiting"`             // copies stored and not yet read
	LastRead    string `json:"last_read,omitempty"` // RFC 3339, when known
	Push        string `json:"push,omitempty"`      // push delivery state, when it pushes
}
