// Package broker is the composition root: Options, New, Start, Close. It
// builds each room from the ones below it and hands them to each other;
// the work is done in the sub-packages (docs/architecture.md).
//
// An event's path: a participant publishes a CloudEvent over HTTP
// (httpapi → pipeline.Ingest) or straight to its NATS ingest subject
// (natsauth lets it reach only its own): either way it is stored in the
// participant's own stream, ECM_IN_<area>_<agency>, which JetStream
// acknowledges and which alone detects the participant's duplicates, and
// ECM_INGEST sources it from there (store.Ensure). pipeline.Consume takes it
// from its partition's consumer on ECM_INGEST, event.Validate
// checks it (or it goes to the dead letters with every reason), policy.Decider
// decides once who receives it against the child's state (child.Store), and
// the batch stores the audit records (audit.Writer) before the copies
// (ECM_DELIVERY, fields removed as decided), then the child's new state
// (child.State.Next: Apply, and the events the broker generates, Derive, decided
// the same way), and only then acknowledges the event. Participants read their
// copies over HTTP or their own NATS consumer, or have them POSTed to their
// webhook (push: signed, retried, dead-lettered when given up); operators and IG leads work on
// the record through ops (replay, impact, subject access, erasure, retention).
package broker
