// Package audit keeps the record of every decision and every operator action,
// tamper-evident (docs/operations.md, "The audit chain"). The write side
// (Writer) has one method per kind of entry and links each into a hash chain
// with signed checkpoints; the read side (Reader) reads a child's records and
// verifies a stream with the verifier of package audit/chain, which needs
// nothing but the standard library and can run offline; the Monitor runs
// that verification in the background and says what it found (/readyz, the
// metrics). In: api.AuditRecord. Out: records stored in ECM_AUDIT under
// ecm.audit.<child key>; an api.AuditChainStatus.
package audit
