package api

// IndexRecord is the s.12(4) basic data of one child (docs/policy-input.md).
type IndexRecord struct {
	UIN          string         `json:"uin"`
	Name         any            `json:"name,omitempty"`
	DOB          string         `json:"dob,omitempty"`
	Gender       string         `json:"gender,omitempty"`
	Address      any            `json:"address,omitempty"`
	Area         string         `json:"area"`
	PreviousArea string         `json:"previous_area,omitempty"`
	Carers       []any          `json:"carers,omitempty"`
	Education    map[string]any `json:"education,omitempty"`
	GP           map[string]any `json:"gp,omitempty"`
	Involvements []Involvement  `json:"involvements,omitempty"`
	Concerns     []Concern      `json:"concerns,omitempty"`
	Flags        Flags          `json:"flags"`
	// Times holds, per part of the record, the time (RFC 3339) of the event
	// that set it last, so that an older event arriving later does not undo
	// it (broker/child/order.go). Absent in records stored before times were kept.
	Times map[string]string `json:"times,omitempty"`
}

// Involvement is a practitioner of a participant providing a service (s.12(4)(f)).
type Involvement struct {
	Participant  string         `json:"participant"`
	Practitioner map[string]any `json:"practitioner"`
	Service      string         `json:"service,omitempty"`
	Active       bool           `json:"active"`
	Since        string         `json:"since"`
	Ended        string         `json:"ended,omitempty"`
}

// Concern is the fact that a practitioner has a concern (s.12(4)(g)): who
// and how to reach them, never what the concern is.
type Concern struct {
	Participant  string         `json:"participant"`
	Practitioner map[string]any `json:"practitioner"`
	FlaggedAt    string         `json:"flagged_at"`
	Active       bool           `json:"active"`
	Withdrawn    string         `json:"withdrawn,omitempty"`
}

// Flags are the markers the sharing rules need, set by la-social-care only.
type Flags struct {
	Shielded           bool `json:"shielded"`
	CareLeaver         bool `json:"care_leaver"`
	LearningDifficulty bool `json:"learning_difficulty"`
}

// Consent is a child's consent history, by the events' time, oldest first
// (then in the order they arrived).
type Consent struct {
	Entries []ConsentEntry `json:"entries"`
}

// ConsentEntry is one grant or withdrawal.
type ConsentEntry struct {
	Seq      uint64 `json:"seq"`
	Kind     string `json:"kind"` // granted or withdrawn
	At       string `json:"at"`
	By       string `json:"by"`
	EventID  string `json:"event_id"`
	GivenBy  string `json:"given_by,omitempty"`
	Purposes []any  `json:"purposes"`
	Agencies []any  `json:"agencies"`
	Expires  string `json:"expires,omitempty"`
}
