// Package push delivers copies to the participants that cannot run a NATS
// client: for each participant with a webhook (config.Participant.Push) it
// reads the copies stored for it in ECM_DELIVERY through a durable consumer
// of its own (store.EnsurePushConsumers, one copy unacknowledged at a time,
// so copies arrive in order) and POSTs each to the webhook as a structured
// CloudEvent signed per the Standard Webhooks spec (attempt.go). A copy is
// acknowledged only after a 2xx; a failure is retried with exponential
// backoff and jitter until the copy is older than push.give_up_after, when
// it goes to the dead letters with every attempt's status (deadletter.go).
// The attempts, and the last copy delivered (which a crash of the embedded
// server may make the consumer forget), are kept in the ECM_PUSH bucket
// (state.go). A circuit breaker per endpoint stops hammering one that is
// down (breaker.go). Out: deliveries to the webhooks, metrics ecm_push_*,
// Status for GET /v1/push and Retry (an audited operator action) for POST
// /v1/push/retry. docs/push.md.
package push
