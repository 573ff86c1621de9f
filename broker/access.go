package broker

import (
	"context"

	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/ops"
	"github.com/nats-io/nats.go"
)

// Checkpoint writes an audit checkpoint now (tests, and operators who want
// the newest records covered before a copy is taken).
func (b *Broker) Checkpoint(ctx context.Context) error { return b.audit.Checkpoint(ctx) }

// AuditPublicKey is the base64 Ed25519 public key checkpoints are signed with.
func (b *Broker) AuditPublicKey() string { return b.audit.PublicKey() }

// Ops are the operator and IG-lead operations, for tools in the same process.
func (b *Broker) Ops() *ops.Ops { return b.ops }

// AuditLog reads the audit, for tools in the same process.
func (b *Broker) AuditLog() *audit.Reader { return b.auditLog }

// AuditWriter writes the audit, for tools in the same process.
func (b *Broker) AuditWriter() *audit.Writer { return b.audit }

// AuditMonitor verifies the audit in the background, for tools in the
// same process (Check runs a check now).
func (b *Broker) AuditMonitor() *audit.Monitor { return b.auditMon }

// TrustedKeys are the public keys whose audit checkpoints verify.
func (b *Broker) TrustedKeys() map[string]bool { return b.audit.TrustedKeys(b.cfg) }

// NATSConn is the broker's NATS connection, for tools in the same process.
func (b *Broker) NATSConn() *nats.Conn { return b.nc }
