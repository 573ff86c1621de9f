package broker

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AuditRecord is the record of one decided event: who received it, who did
// not, and why, under which policy revision. The child appears only as its
// keyed hash, so an erasure leaves the audit chain whole.
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
	Outcome        string     `json:"outcome"` // decided, policy-error or rejected
	Error          string     `json:"error,omitempty"`
	CausedBy       string     `json:"caused_by,omitempty"`
	Review         bool       `json:"review,omitempty"`
	Decisions      []Decision `json:"decisions"`
	Problems       []Problem  `json:"problems,omitempty"`

	// Superseded: events with a later time had already set some of what
	// this event names, so the child's state kept theirs (order.go). Note
	// says what, in words, and also when a registration was taken as a
	// claim about residence (residence.go). Neither quotes a value.
	Superseded bool   `json:"superseded,omitempty"`
	Note       string `json:"note,omitempty"`

	// --- operations (chain.go, replay.go, erase.go, sar.go) ---
	// Action is set on records of what an operator did: a replayed
	// delivery, an erasure, a subject access export.
	Action *AuditAction `json:"action,omitempty"`
	// The record's link in its writer's hash chain (chain.go): the chain,
	// the record's place in it, the SHA-256 of the previous record's bytes.
	Chain      string `json:"chain,omitempty"`
	ChainIndex uint64 `json:"chain_index,omitempty"`
	PrevHash   string `json:"prev_hash,omitempty"`
	msgID      string // message id, when not derived from the event
	// --- end operations ---

	rejectID string // dead-letter id of a rejected event
}

func (b *Broker) auditAsync(rec AuditRecord) (jetstream.PubAckFuture, error) {
	id := "audit:" + rec.Source + "#" + rec.EventID
	if rec.rejectID != "" {
		id = "audit-rejected:" + rec.rejectID
	}
	// --- operations: chained publish (chain.go) ---
	if rec.msgID != "" {
		id = rec.msgID
	}
	if b.chain != nil {
		return b.chain.submit(rec, id)
	}
	// --- end operations ---
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding audit record: %w", err)
	}
	m := nats.NewMsg(AuditSubject(rec.ChildKey))
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Data = body
	return b.js.PublishMsgAsync(m)
}
