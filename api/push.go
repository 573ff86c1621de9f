package api

// Push delivery (docs/push.md): the broker POSTs a participant's copies to
// its webhook. GET /v1/push reports each webhook; POST /v1/push/retry
// re-queues the copies the broker gave up on.

// PushStatus is GET /v1/push (operators): one entry per participant with a
// webhook, in the configuration's order.
type PushStatus struct {
	Participants []PushParticipant `json:"participants"`
}

// PushParticipant is where pushing one participant's copies stands.
type PushParticipant struct {
	Participant string `json:"participant"`
	// Endpoint is the webhook's URL without credentials or query.
	Endpoint string `json:"endpoint"`
	// Pending counts the copies stored and not yet delivered (the one
	// being tried included); Oldest is when the oldest of them was stored
	// (RFC 3339, empty when none is pending).
	Pending uint64 `json:"pending"`
	Oldest  string `json:"oldest,omitempty"`
	// Failures counts the failed attempts at the copy being tried now;
	// LastFailure says what the latest was and NextAttempt when the next is
	// due (RFC 3339).
	Failures    int    `json:"failures"`
	LastFailure string `json:"last_failure,omitempty"`
	NextAttempt string `json:"next_attempt,omitempty"`
	// Breaker is the endpoint's circuit breaker on the instance that
	// answered: closed (attempts go), open (none until the cooldown ends)
	// or half-open (one attempt tests the endpoint).
	Breaker string `json:"breaker"`
	// DeadLettered counts the copies given up and not re-queued since:
	// what POST /v1/push/retry would send again.
	DeadLettered int `json:"dead_lettered"`
}

// PushRetryRequest is POST /v1/push/retry (operators with the replay role):
// re-queue the participant's dead-lettered copies.
type PushRetryRequest struct {
	Participant string `json:"participant"`
}

// PushRetryResult says what a push retry re-queued. ID names the operator
// action in the audit. Each re-queued copy is stored again in
// ECM_DELIVERY at the sequence listed, keeping its webhook-id.
type PushRetryResult struct {
	ID          string   `json:"id"`
	Participant string   `json:"participant"`
	Requeued    int      `json:"requeued"`
	DeliverySeq []uint64 `json:"delivery_seq"`
}
