package api

// AuditRecord is one entry of the audit: the decision about one event (who
// may receive it, who may not, and why, under which policy revision); the
// copies that decision led to, as stored (outcome "copies", written once
// their publishes resolved: the decision is written before any copy goes
// out); or, with Action set, what an operator did. The audit writer links every entry
// into its hash chain (ChainLink). The child appears only as its keyed hash,
// so an erasure leaves the audit chain whole.
type AuditRecord struct {
	IngestSeq      uint64     `json:"ingest_seq"`
	EventID        string     `json:"event_id"`
	Source         string     `json:"source"`
	Type           string     `json:"type"`
	Publisher      string     `json:"publisher"`
	ChildKey       string     `json:"child_key"`
	Child          string     `json:"child,omitempty"` // filled in only when read back by UIN
	EventTime      string     `json:"event_time"`
	DecidedAt      string     `json:"decided_at"`
	PolicyRevision string     `json:"policy_revision"`
	Outcome        string     `json:"outcome"` // decided, policy-error, rejected, copies; an action's kind
	Error          string     `json:"error,omitempty"`
	CausedBy       string     `json:"caused_by,omitempty"`
	Review         bool       `json:"review,omitempty"`
	Decisions      []Decision `json:"decisions"`
	Problems       []Problem  `json:"problems,omitempty"`

	// Superseded: events with a later time had already set some of what
	// this event names, so the child's state kept theirs (broker/child/order.go).
	// Note says what, in words, and also when a registration was taken as a
	// claim about residence (broker/child/residence.go). Neither quotes a value.
	Superseded bool   `json:"superseded,omitempty"`
	Note       string `json:"note,omitempty"`

	// Copies are, on a record of outcome "copies", what became of each copy
	// (stored at a sequence of ECM_DELIVERY, or refused); on the record a
	// replay or backfill writes before it sends a child's copies, the copies
	// it is about to send (status "sending").
	Copies []Copy `json:"copies,omitempty"`

	// Action is set on records of what an operator did: a replay, an
	// erasure, a subject access export.
	Action *AuditAction `json:"action,omitempty"`

	ChainLink
}

// ChainLink is a record's place in its writer's hash chain: the chain, the
// record's index in it and the SHA-256 of the previous record's stored bytes.
// The audit writer sets it; nobody else.
type ChainLink struct {
	Chain      string `json:"chain,omitempty"`
	ChainIndex uint64 `json:"chain_index,omitempty"`
	PrevHash   string `json:"prev_hash,omitempty"`
}

// AuditAction describes what an operator did, on the audit record of it.
type AuditAction struct {
	Kind        string           `json:"kind"` // replay, backfill (and their -dry-run), erasure, subject-access, read, policy-proposed, policy-approved, policy-refused, policy-activated
	ID          string           `json:"id,omitempty"`
	By          string           `json:"by"` // the operator's name
	Reason      string           `json:"reason,omitempty"`
	Participant string           `json:"participant,omitempty"`
	Selection   *ReplaySelection `json:"selection,omitempty"`
	Counts      map[string]int   `json:"counts,omitempty"`
	Error       string           `json:"error,omitempty"`
	// Read is, on a record of kind read, the route an operator read the
	// child's data through ("GET /v1/audit"); never the query (it holds
	// the UIN).
	Read string `json:"read,omitempty"`
	// Impact is a backfill's fingerprint of the copies it sends (or, in a
	// dry run, would send); Confirms names the dry run a backfill confirms.
	Impact   string `json:"impact,omitempty"`
	Confirms string `json:"confirms,omitempty"`
	// From and To are, on the records of a policy's proposal, approval,
	// refusal and activation (kinds policy-...), the revision live before
	// and the revision proposed or made live.
	From string `json:"from_revision,omitempty"`
	To   string `json:"to_revision,omitempty"`
	// A replayed event's two decisions, on the per-event records that
	// replays wrote before issue 11 (today a replay writes one record per
	// child that received copies): with the child's state as of the event,
	// and with its state now. Kept so that those records still read.
	AtEvent *Decision `json:"at_event,omitempty"`
	Now     *Decision `json:"now,omitempty"`
}

// Copy is what became of one participant's copy of an event, as the broker
// knew it once JetStream had answered the copy's publish.
type Copy struct {
	Participant string `json:"participant"`
	// The event. A pipeline's record of copies names one event, at the
	// record's level; a replay's record lists copies of several events, so
	// each copy names its own.
	EventID   string `json:"event_id,omitempty"`
	Source    string `json:"source,omitempty"`
	Type      string `json:"type,omitempty"`
	EventTime string `json:"event_time,omitempty"`
	IngestSeq uint64 `json:"ingest_seq,omitempty"`
	CausedBy  string `json:"caused_by,omitempty"`
	// Status is delivered (stored in ECM_DELIVERY at DeliverySeq; StoredAt
	// is when the broker had JetStream's acknowledgement) or refused (not
	// stored: Reason says why in words; a copy refused by the participant's
	// delivery limit is kept in the dead letters at DeadLetterSeq). On a
	// replay's record written before the copies go out, sending.
	Status        string   `json:"status"`
	DeliverySeq   uint64   `json:"delivery_seq,omitempty"`
	StoredAt      string   `json:"stored_at,omitempty"`
	DeadLetterSeq uint64   `json:"deadletter_seq,omitempty"`
	Basis         string   `json:"basis"`
	Removed       []string `json:"removed"` // the data fields the copy was sent without
	Reason        string   `json:"reason,omitempty"`
	Review        bool     `json:"review,omitempty"`
}

// Copy statuses.
const (
	CopyDelivered = "delivered"
	CopyRefused   = "refused"
	CopySending   = "sending"
)

// ChainHead is the newest stored record of one chain.
type ChainHead struct {
	Chain string `json:"chain"`
	Index uint64 `json:"index"`
	Hash  string `json:"hash"`
	Seq   uint64 `json:"seq"`
}

// Checkpoint is a signed statement of an instance's chain heads. Chains
// lists the chains that advanced since the previous checkpoint; Prev is the
// SHA-256 of the previous checkpoint's bytes, so a removed checkpoint shows.
type Checkpoint struct {
	Instance string      `json:"instance"`
	N        uint64      `json:"n"`
	Prev     string      `json:"prev,omitempty"`
	At       string      `json:"at"`
	Key      string      `json:"key"` // base64 Ed25519 public key
	Chains   []ChainHead `json:"chains"`
}

// ChainBreak is one place where the audit is not as written.
type ChainBreak struct {
	Seq     uint64 `json:"seq"`
	Chain   string `json:"chain,omitempty"`
	Index   uint64 `json:"index,omitempty"`
	Problem string `json:"problem"`
}

// VerifyReport is the answer of an audit verification.
type VerifyReport struct {
	Stream      string       `json:"stream"`
	Records     int          `json:"records"`
	Chains      int          `json:"chains"`
	Checkpoints int          `json:"checkpoints"`
	Unchained   int          `json:"unchained"` // records written before chaining began
	Covered     int          `json:"covered"`   // records at or below a checkpointed head
	LastSigned  string       `json:"last_checkpoint,omitempty"`
	OK          bool         `json:"ok"`
	FirstBreak  *ChainBreak  `json:"first_break,omitempty"`
	Breaks      []ChainBreak `json:"breaks,omitempty"` // the first 100
	BreakCount  int          `json:"break_count"`
	// ExpectedHeads counts the heads kept outside the broker that the
	// stream was checked against (VerifyRequest.ExpectHeads).
	ExpectedHeads int `json:"expected_heads,omitempty"`
	// SignedHeads are, per chain, the highest head a trusted checkpoint
	// names: given when asked (VerifyRequest.Heads), to keep outside the
	// broker as AuditHeads.
	SignedHeads []ChainHead `json:"signed_heads,omitempty"`
}

// VerifyRequest is the body of POST /v1/audit/verify (GET takes the same
// as query parameters, without ExpectHeads).
type VerifyRequest struct {
	Stream    string `json:"stream,omitempty"`     // ECM_AUDIT (default) or a copy ECM_AUDIT_...
	PublicKey string `json:"public_key,omitempty"` // trust only this key
	// ExpectHeads are heads saved outside the broker: the stream must still
	// reach each, with the same record there.
	ExpectHeads []ChainHead `json:"expect_heads,omitempty"`
	// Heads asks for the report's SignedHeads.
	Heads bool `json:"heads,omitempty"`
}

// AuditHeads is the file `ecmctl audit verify --save-heads` writes and
// --expect-head reads: the signed chain heads of an audit that verified,
// kept where the broker's operators cannot change them.
type AuditHeads struct {
	Stream         string      `json:"stream"`
	SavedAt        string      `json:"saved_at"`
	LastCheckpoint string      `json:"last_checkpoint,omitempty"`
	Records        int         `json:"records"`
	Heads          []ChainHead `json:"heads"`
}

// AuditChainStatus is what the broker's own verification of its audit
// found last (the background check every audit_verify_every, or an
// operator's full verification): /readyz shows it, the metrics count it.
type AuditChainStatus struct {
	State      string      `json:"state"` // unverified, whole, broken
	CheckedAt  string      `json:"checked_at,omitempty"`
	LastWhole  string      `json:"last_whole,omitempty"` // when a check last found it whole
	Records    int         `json:"records"`
	BreakCount int         `json:"break_count"`
	FirstBreak *ChainBreak `json:"first_break,omitempty"`
	Error      string      `json:"error,omitempty"` // the last check could not run
}
