package api

// Decision is one participant's outcome for one event.
type Decision struct {
	Participant string   `json:"participant"`
	Allow       bool     `json:"allow"`
	Basis       string   `json:"basis"`
	Remove      []string `json:"remove"`
	Reason      string   `json:"reason"`
	Review      bool     `json:"review,omitempty"`
}

// Problem is one thing wrong with an event, said so that the publisher can fix it.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Explanation is the answer of POST /v1/decide: what the current policy
// would decide for an event against the current state, delivering nothing.
type Explanation struct {
	EventID        string        `json:"event_id"`
	Type           string        `json:"type"`
	Publisher      string        `json:"publisher"`
	AsOf           string        `json:"as_of"`
	PolicyRevision string        `json:"policy_revision"`
	ChildKnown     bool          `json:"child_known"`
	Error          string        `json:"error,omitempty"`
	Decisions      []Decision    `json:"decisions"`
	Generated      []Explanation `json:"generated,omitempty"`

	// Superseded and Note: what the child's state would not take of the
	// event, as its audit record would say (broker/child/order.go).
	Superseded bool   `json:"superseded,omitempty"`
	Note       string `json:"note,omitempty"`
}

func (p Problem) String() string { return p.Field + ": " + p.Reason }
