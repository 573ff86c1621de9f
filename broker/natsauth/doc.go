// Package natsauth makes NATS enforce who may do what, from the
// configuration: an account per participant holding only its own ingest
// subjects and delivery consumer, read-only operators, the broker's own
// account with every stream (AuthConfig, for an external server or cluster),
// and the embedded nats-server the default run starts with that configuration
// (StartEmbedded). In: the checked config and the broker's identity. Out: a
// nats-server configuration, or a running server and the options the broker
// connects with. docs/security.md lists every grant.
package natsauth
