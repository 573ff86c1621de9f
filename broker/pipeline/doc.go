// Package pipeline takes every event from ingest to its copies: it stores
// what participants send over HTTP (Ingest), consumes the ingest stream one
// partition at a time (Consume), validates each event, decides it once
// (policy.Decider), and for each batch stores the audit records and dead
// letters first, then the copies the decisions allow, then the child states,
// and only then acknowledges the events. A stage returns what it wants stored
// and the batch awaits all of it: nothing is acknowledged before everything it
// caused is durable. Rejected input goes to the dead letters with its reasons.
// An event sent again after JetStream's duplicate window is recognised from
// the child's record and not decided again (resent.go).
package pipeline
