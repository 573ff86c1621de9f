package httpapi

import (
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/govern"
	"github.com/ecm-broker/ecm-broker/broker/ops"
	"github.com/ecm-broker/ecm-broker/broker/pipeline"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/broker/push"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
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
	Govern   *govern.Govern
	Pipeline *pipeline.Pipeline
	Ops      *ops.Ops
	Push     *push.Pusher // GET /v1/push, POST /v1/push/retry (push.go)
	Audit    *audit.Writer
	AuditLog *audit.Reader
	// AuditMonitor is the background verification of the audit: /readyz
	// reports what it found, a full verification by an operator updates it.
	AuditMonitor *audit.Monitor
	Metrics      *pipeline.Metrics
	Log          *zap.Logger
	// Limits: the failed-authentication throttle and the NDJSON line
	// timeout are applied here (server_limits.go); zero takes the defaults.
	Limits Limits
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
	govern   *govern.Govern
	pipe     *pipeline.Pipeline
	ops      *ops.Ops
	push     *push.Pusher
	audit    *audit.Writer
	auditLog *audit.Reader
	auditMon *audit.Monitor
	metrics  *pipeline.Metrics
	log      *zap.Logger

	recent recentOps // the overview's recent replays (console_api.go)

	limits       Limits
	throttle     *throttle              // failed authentications per client address (auth.go)
	authFailures *prometheus.CounterVec // ecm_http_auth_failures_total
}

// New builds the API; Handler serves it.
func New(d Deps) *Server {
	s := &Server{nc: d.NC, js: d.JS, cfg: d.Config, registry: d.Registry, children: d.Children, decider: d.Decider,
		reloader: d.Reloader, govern: d.Govern, pipe: d.Pipeline, ops: d.Ops, push: d.Push, audit: d.Audit, auditLog: d.AuditLog, auditMon: d.AuditMonitor,
		metrics: d.Metrics, log: d.Log}
	s.limits = d.Limits.WithDefaults()
	s.throttle = newThrottle(s.limits.AuthFailures)
	s.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_http_auth_failures_total",
		Help: "HTTP requests refused for their token, by outcome: refused (a token that names nobody) or throttled (429, the client address failed too often)."},
		[]string{"outcome"})
	s.metrics.Registry.MustRegister(s.authFailures)
	return s
}
