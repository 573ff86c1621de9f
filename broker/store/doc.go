// Package store owns the broker's streams, buckets and consumers on
// JetStream, and the ways stored messages are read back. In: the
// configuration (replicas, duplicate window, delivery limits, retention ages).
// Out: streams created or updated idempotently at every start (each
// participant's own ingest stream and ECM_INGEST sourcing them all:
// ingest.go), the broker-wide child key secret, how much ingested work is
// still pending (IngestPending), and stored messages as Msg, read by a Scan
// over a stream, a page of one subject (ReadSubject) or by sequence (BySeq).
package store
