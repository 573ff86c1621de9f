package httpapi

import (
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/ops"
	"github.com/ecm-broker/ecm-broker/broker/pipeline"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Deps are what the API serves from; the broker builds them.
type Deps struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Config   *config.Config
	Registry *config.Registry
	Children *child.Store
	Decider  *policy.Decider
	Reloader *policy.Reloader
	Pipeline *pipeline.Pipeline
	Ops      *ops.Ops
	Audit    *audit.Writer
	AuditLog *audit.Reader
	// AuditMonitor is the background verification of the audit: /readyz
	// reports what it found, a full verification by an operator updates it.
	AuditMonitor *audit.Monitor
	Metrics      *pipeline.Metrics
	Log          *zap.Logger
}

// Server is the broker's HTTP API.
type Server struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	cfg      *config.Config
	registry *config.Registry
	children *child.Store
	decider  *policy.Decider
	reloader *policy.Reloader
	pipe     *pipeline.Pipeline
	ops      *ops.Ops
	audit    *audit.Writer
	auditLog *audit.Reader
	auditMon *audit.Monitor
	metrics  *pipeline.Metrics
	log      *zap.Logger
}

// New builds the API; Handler serves it.
func New(d Deps) *Server {
	return &Server{nc: d.NC, js: d.JS, cfg: d.Config, registry: d.Registry, children: d.Children, decider: d.Decider,
		reloader: d.Reloader, pipe: d.Pipeline, ops: d.Ops, audit: d.Audit, auditLog: d.AuditLog, auditMon: d.AuditMonitor,
		metrics: d.Metrics, log: d.Log}
}
