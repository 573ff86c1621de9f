package broker

import (
	"context"
	"net/http"

	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/store"
)

// Checkpoint writes an audit checkpoint now (tests, and operators who want
// the newest records covered before a copy is taken).
func (b *Broker) Checkpoint(ctx context.Context) error { return b.audit.Checkpoint(ctx) }

// AuditPublicKey is the base64 Ed25519 public key checkpoints are signed with.
func (b *Broker) AuditPublicKey() string { return b.audit.PublicKey() }

// initOps prepares the operator features once the streams exist: the audit
// writer with its signing key, and the streams' retention.
func (b *Broker) initOps(ctx context.Context) error {
	w, err := audit.NewWriter(ctx, b.js, b.cfg, b.log, func(err error) { b.pipe.AuditFailing(err) })
	if err != nil {
		return err
	}
	b.audit, b.auditLog = w, audit.NewReader(b.js)
	return store.ApplyRetention(ctx, b.js, b.cfg)
}

// startOps runs the audit chains, their checkpoints and the retention sweep
// until ctx ends.
func (b *Broker) startOps(ctx context.Context) {
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.audit.Run(ctx) }()
	go func() { defer b.wg.Done(); b.runRetention(ctx) }()
}

// opsRoutes registers the operator and IG-lead endpoints.
func (b *Broker) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/audit/verify", b.handleVerify)
	mux.HandleFunc("POST /v1/replay", b.handleReplay)
	mux.HandleFunc("POST /v1/impact", b.handleImpact)
	mux.HandleFunc("GET /v1/sar", b.handleSubjectAccess)
	mux.HandleFunc("GET /v1/disclosures", b.handleDisclosures)
	mux.HandleFunc("POST /v1/erase", b.handleErase)
}
