package api

import (
	"encoding/json"
	"time"
)

// Delivery is one delivered copy as read back.
type Delivery struct {
	Seq   uint64          `json:"seq"`
	Basis string          `json:"basis,omitempty"`
	Event json.RawMessage `json:"event"`
}

// IngestResult is the answer for one event. Seq is the event's sequence
// among the publisher's own events (its ingest stream,
// ECM_IN_<area>_<agency>): 1, 2, 3 ... whatever others publish, the sequence
// a NATS acknowledgement carries too.
type IngestResult struct {
	Index    int       `json:"index"`
	ID       string    `json:"id,omitempty"`
	Status   int       `json:"status"`
	Outcome  string    `json:"outcome"` // accepted, duplicate, invalid, forbidden, conflict, error
	Seq      uint64    `json:"seq,omitempty"`
	Error    string    `json:"error,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// DeadLetter is a rejected input with every reason it was rejected.
type DeadLetter struct {
	Seq        uint64            `json:"seq,omitempty"`
	Received   time.Time         `json:"received"`
	Publisher  string            `json:"publisher"`
	Reasons    []string          `json:"reasons"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       json.RawMessage   `json:"body,omitempty"`
	BodyText   string            `json:"body_text,omitempty"`
	BodyBase64 string            `json:"body_base64,omitempty"`
	Size       int               `json:"size"`
	Truncated  bool              `json:"truncated,omitempty"`
	// Resolved is set on a copy refused by a delivery limit that a replay
	// or backfill later delivered: the body is then the copy as delivered
	// (never more than the participant holds), not the copy as refused.
	Resolved *DeadLetterResolution `json:"resolved,omitempty"`
	// Triage is what an operator did about it (POST
	// /v1/deadletters/{seq}/resolve or /resubmit), when anything.
	Triage *DeadLetterTriage `json:"triage,omitempty"`
}

// DeadLetterResolution says how a refused copy was delivered in the end.
type DeadLetterResolution struct {
	At          string `json:"at"`
	Operation   string `json:"operation"` // replay, backfill
	ID          string `json:"id"`        // the operation's id, as in the audit
	Operator    string `json:"operator"`
	DeliverySeq uint64 `json:"delivery_seq"` // the delivered copy in ECM_DELIVERY
}

// DeliveryPage is GET /v1/deliveries: a page of a participant's copies and
// the cursor to pass as after for the next page.
type DeliveryPage struct {
	Deliveries []Delivery `json:"deliveries"`
	Next       uint64     `json:"next"`
}

// DeadLetterPage is GET /v1/deadletters: a page of refused input and the
// cursor to pass as after for the next page.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"deadletters"`
	Next        uint64       `json:"next"`
}

// Error is every error answer of the HTTP API: a message a person can act
// on, and a code a program can test (bad_request, unauthorized, forbidden,
// conflict, too_large, unprocessable, throttled, unavailable, internal).
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}
