package api

// AuditRecord is one entry of the audit: either the decision about one event
// (who received it, who did not, and why, under which policy revision) or,
// with Action set, what an operator did. The audit writer links every entry
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
	Outcome        string     `json:"outcome"` // decided, policy-error, rejected; an action's kind
	Error          string     `json:"error,omitempty"`
	CausedBy       string     `json:"caused_by,omitempty"`
	Review         bool       `json:"review,omitempty"`
	Decisions      []Decision `json:"decisions"`
	Problems       []Problem  `json:"problems,omitempty"`

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
	Kind        string           `json:"kind"` // replay, erasure, subject-access, read
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
	// A replayed event's two decisions: with the child's state as of the
	// event, and with its state now. The record's decision combines them.
	AtEvent *Decision `json:"at_event,omitempty"`
	Now     *Decision `json:"now,omitempty"`
}

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
}
