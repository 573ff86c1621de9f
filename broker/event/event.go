package event

import (
	"encoding/json"
	"time"
)

// MaxBytes is the largest event accepted (domain spec: a whole event at
// most 1 MiB).
const MaxBytes = 1 << 20

// Event is a validated catalogue event: what the pipeline decides on.
type Event struct {
	ID, Source, Type, Subject string
	// Name is the catalogue name: Type without "uk.gov.ecm." and ".v1".
	Name         string
	Time         time.Time
	Override     string
	Practitioner string
	// Publisher is the participant id the event came from, or "broker".
	Publisher string
	// Attrs are all attributes as they will be delivered (extensions kept).
	Attrs map[string]any
	// Data is the parsed data object.
	Data map[string]any
	// Raw is the data as received.
	Raw json.RawMessage
}

// ReasonSourceNotPublisher is the reason given when an event's source is not
// its publisher's identity: the one refusal answered 403 rather than 400.
const ReasonSourceNotPublisher = "is not the publisher's identity"
