// Package chain verifies an audit stream offline: feed every stored message,
// in stream order, to a Verifier and read its Report. Each record names its
// chain, its index and the SHA-256 of the record before it; each signed
// checkpoint (Ed25519) names the heads of the chains and the checkpoint before
// it. A changed, removed, moved or inserted record, a forged checkpoint or a
// cut tail covered by a checkpoint shows as a break. It imports only the
// standard library and the shared shapes, so an auditor can run it on an
// export without the broker.
package chain
