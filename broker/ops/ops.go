package ops

import (
	"sync"

	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Deps are what the operations work with; the broker builds them.
type Deps struct {
	JS       jetstream.JetStream
	Config   *config.Config
	Registry *config.Registry
	Children *child.Store
	Decider  *policy.Decider
	Audit    *audit.Writer
	AuditLog *audit.Reader
	// AuditMonitor says what the last verification of the audit found; a
	// subject access report names a broken chain as a gap.
	AuditMonitor *audit.Monitor
	Log          *zap.Logger
}

// Ops are the operator and IG-lead operations of one broker instance.
type Ops struct {
	js       jetstream.JetStream
	cfg      *config.Config
	registry *config.Registry
	children *child.Store
	decider  *policy.Decider
	audit    *audit.Writer
	auditLog *audit.Reader
	auditMon *audit.Monitor
	log      *zap.Logger
	impactMu sync.Mutex // one impact analysis at a time
}

// New builds the operations.
func New(d Deps) *Ops {
	return &Ops{js: d.JS, cfg: d.Config, registry: d.Registry, children: d.Children, decider: d.Decider,
		audit: d.Audit, auditLog: d.AuditLog, auditMon: d.AuditMonitor, log: d.Log}
}
