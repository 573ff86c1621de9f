package broker

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/govern"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/broker/ops"
	"github.com/ecm-broker/ecm-broker/broker/pipeline"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/broker/push"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Options say how to build a Broker.
type Options struct {
	Config *config.Config
	// NATSURL connects to an external NATS server or cluster. When empty an
	// embedded nats-server is started with Embedded.
	NATSURL  string
	NATSOpts []nats.Option // credentials, TLS
	Embedded natsauth.EmbeddedOptions
	// HTTPAddr is the API address; port 0 picks a free one.
	HTTPAddr string
	// The HTTP edge (edge.go): HTTPTLS makes the API HTTPS only; without
	// it the API serves plain HTTP on a loopback address only, unless
	// HTTPInsecureAllowPlain (behind a proxy that terminates TLS).
	// HTTPLimits are its timeouts, connection limit and failed-login
	// throttle (zero: httpapi.DefaultLimits). MetricsAddr, when set, serves
	// /metrics there without a token (the API's /metrics needs an
	// operator's), under the same TLS and plain-HTTP rules.
	HTTPTLS                httpapi.TLSFiles
	HTTPInsecureAllowPlain bool
	HTTPLimits             httpapi.Limits
	MetricsAddr            string
	// Policies holds the policy modules and their tests (the built-in copy
	// by default). PolicyDir, when set, is used instead: a directory or an
	// OPA bundle file. Either is the deployed policy: it serves at start
	// unless a revision recorded since (an approved proposal) is live and
	// the deployed policy has not changed since (broker/govern, Boot).
	Policies  fs.FS
	PolicyDir string
	// PolicyWatch turns hot reload on: PolicyDir is watched and a changed
	// policy that passes its checks goes live without a second operator's
	// approval. For development; off by default, and logged as a warning
	// when on.
	PolicyWatch bool
	Logger      *zap.Logger
	// AfterStored is handed to the pipeline (pipeline.Deps.AfterStored):
	// cmd/ecm-broker sets it from ECM_FAILPOINT for the crash tests.
	AfterStored func(events int64)
}

// Broker is one broker instance: the pipeline and its HTTP API.
type Broker struct {
	cfg      *config.Config
	log      *zap.Logger
	srv      *server.Server // nil when using an external NATS
	nc       *nats.Conn
	js       jetstream.JetStream
	children *child.Store
	decider  *policy.Decider
	reloader *policy.Reloader
	registry *config.Registry
	metrics  *pipeline.Metrics
	pipe     *pipeline.Pipeline
	audit    *audit.Writer // links audit records into chains, signs checkpoints
	auditLog *audit.Reader
	auditMon *audit.Monitor // verifies the audit in the background: /readyz, metrics
	ops      *ops.Ops
	govern   *govern.Govern // policy revisions and proposals
	push     *push.Pusher   // POSTs copies to the participants' webhooks

	httpLn     net.Listener
	httpSrv    *http.Server
	httpTLS    bool
	metricsLn  net.Listener // nil without Options.MetricsAddr
	metricsSrv *http.Server

	wg        sync.WaitGroup
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New connects (or starts the embedded server), creates the streams, loads
// the policy and listens for HTTP. Start runs it.
func New(ctx context.Context, o Options) (*Broker, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Config == nil {
		return nil, fmt.Errorf("%w: no configuration", config.ErrConfig)
	}
	if err := o.Config.Check(); err != nil { // also when built in code: weak tokens refuse to start
		return nil, err
	}
	if err := checkEdge(o); err != nil { // before anything starts: no plain HTTP beyond loopback
		return nil, err
	}
	if o.PolicyWatch && o.PolicyDir == "" {
		return nil, fmt.Errorf("%w: policy hot reload (--policy-watch) needs a policy directory or bundle (--policies)", config.ErrConfig)
	}
	b := &Broker{cfg: o.Config, log: o.Logger, registry: config.NewRegistry(o.Config), metrics: pipeline.NewMetrics()}
	if _, err := schemas.Default(); err != nil {
		return nil, fmt.Errorf("loading schemas: %w", err)
	}
	url := o.NATSURL
	var own []nats.Option // the broker's identity on the embedded server (natsauth)
	if url == "" {
		srv, ownOpts, err := natsauth.StartEmbedded(o.Embedded, o.Config)
		if err != nil {
			return nil, err
		}
		b.srv, own = srv, ownOpts
		url = srv.ClientURL()
		b.log.Info("embedded nats-server started", zap.String("url", url), zap.String("store", o.Embedded.StoreDir),
			zap.Bool("isolation", o.Embedded.Isolation))
	}
	opts := append([]nats.Option{nats.Name("ecm-broker"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.log.Warn("nats disconnected", zap.Error(err)) }),
		nats.ReconnectHandler(func(c *nats.Conn) { b.log.Info("nats reconnected", zap.String("url", c.ConnectedUrlRedacted())) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { b.log.Error("nats error", zap.Error(err)) }),
	}, own...)
	opts = append(opts, o.NATSOpts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connecting to nats %s: %w", url, err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		b.Close()
		return nil, err
	}
	if err := store.Ensure(ctx, b.js, b.cfg); err != nil {
		b.Close()
		return nil, err
	}
	b.metrics.Registry.MustRegister(store.NewDeliveryCollector(b.js, b.cfg)) // ecm_delivery_held, ecm_delivery_limit
	b.metrics.Registry.MustRegister(store.NewIngestCollector(b.js))          // ecm_ingest_unsourced
	if err := store.EnsureDeliveryConsumers(ctx, b.js, b.cfg); err != nil {
		b.Close()
		return nil, err
	}
	if err := store.EnsurePushConsumers(ctx, b.js, b.cfg); err != nil {
		b.Close()
		return nil, err
	}
	secret, err := store.ChildKeySecret(ctx, b.js, b.cfg)
	if err != nil {
		b.Close()
		return nil, err
	}
	kv, err := b.js.KeyValue(ctx, wire.BucketChildren)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.children = child.NewStore(kv, secret, 200_000)
	if b.audit, err = audit.NewWriter(ctx, b.js, b.cfg, b.log, func(err error) { b.pipe.AuditFailing(err) }); err != nil {
		b.Close()
		return nil, err
	}
	b.auditLog = audit.NewReader(b.js)
	b.auditMon = audit.NewMonitor(b.auditLog, b.audit.TrustedKeys(b.cfg), b.cfg.AuditVerifyEvery, b.log, b.metrics.AuditChecked)
	if err := store.ApplyRetention(ctx, b.js, b.cfg); err != nil {
		b.Close()
		return nil, err
	}
	policySrc := o.Policies
	if o.PolicyDir != "" {
		if policySrc, err = policy.Source(o.PolicyDir); err != nil {
			b.Close()
			return nil, err
		}
	}
	modules, err := policy.ReadSource(policySrc)
	if err != nil {
		b.Close()
		return nil, err
	}
	if b.govern, err = govern.New(ctx, govern.Deps{JS: b.js, Config: b.cfg, Audit: b.audit, Log: b.log}); err != nil {
		b.Close()
		return nil, err
	}
	pol, err := b.govern.Boot(ctx, modules) // the deployed policy, or the revision approved since
	if err != nil {
		b.Close()
		return nil, err
	}
	b.decider = policy.NewDecider(pol, b.registry, policy.Options{})
	watch := ""
	if o.PolicyWatch {
		watch = o.PolicyDir
		b.log.Warn("POLICY HOT RELOAD IS ON: a changed policy in the watched directory goes live without a second operator's approval; for development only",
			zap.String("watching", watch))
	}
	b.reloader = policy.NewReloader(b.decider, policySrc, watch, b.log)
	b.reloader.OnReload = b.metrics.PolicyReloaded
	b.pipe = pipeline.New(pipeline.Deps{JS: b.js, Config: b.cfg, Registry: b.registry, Children: b.children, Decider: b.decider,
		Audit: b.audit, Metrics: b.metrics, Log: b.log, AfterStored: o.AfterStored})
	b.ops = ops.New(ops.Deps{JS: b.js, Config: b.cfg, Registry: b.registry, Children: b.children, Decider: b.decider,
		Audit: b.audit, AuditLog: b.auditLog, AuditMonitor: b.auditMon, Log: b.log})
	b.govern.Serve(b.decider, b.reloader, b.proposalImpact)
	b.push = push.New(push.Deps{JS: b.js, Config: b.cfg, Audit: b.audit, Log: b.log, Metrics: b.metrics.Registry})
	b.log.Info("policy loaded", zap.String("revision", pol.Revision))
	api := httpapi.New(httpapi.Deps{NC: b.nc, JS: b.js, Config: b.cfg, Registry: b.registry, Children: b.children,
		Decider: b.decider, Reloader: b.reloader, Govern: b.govern, Pipeline: b.pipe, Ops: b.ops, Push: b.push, Audit: b.audit, AuditLog: b.auditLog,
		AuditMonitor: b.auditMon, Metrics: b.metrics, Log: b.log, Limits: o.HTTPLimits})
	if err := b.listenHTTP(o, api); err != nil { // edge.go
		b.Close()
		return nil, err
	}
	return b, nil
}

// proposalImpact is a proposal's impact over recorded history (ops.Impact),
// waiting its turn: one analysis runs at a time.
func (b *Broker) proposalImpact(ctx context.Context, draft *policy.Policy) (*api.ImpactReport, error) {
	for {
		if unlock, ok := b.ops.LockImpact(); ok {
			defer unlock()
			return b.ops.Impact(ctx, draft, api.ImpactRequest{}, nil)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// HTTPAddr is the address the API listens on.
func (b *Broker) HTTPAddr() string { return b.httpLn.Addr().String() }

// NATSURL is the NATS server the broker uses.
func (b *Broker) NATSURL() string { return b.nc.ConnectedUrl() }

// Server is the embedded nats-server, or nil.
func (b *Broker) Server() *server.Server { return b.srv }

// JetStream is the broker's JetStream context, for tools in the same process.
func (b *Broker) JetStream() jetstream.JetStream { return b.js }

// PolicyRevision is the revision of the policy now deciding.
func (b *Broker) PolicyRevision() string { return b.decider.Policy().Revision }

// ChildKey is the keyed hash naming a child in subjects.
func (b *Broker) ChildKey(uin string) string { return b.children.Key(uin) }

// Start runs the pipeline and the HTTP API in the background.
func (b *Broker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(5)
	go func() { defer b.wg.Done(); b.govern.Run(ctx) }()                    // audits the start's revision, follows other instances' approvals
	go func() { defer b.wg.Done(); b.audit.Run(ctx) }()                     // audit chains and checkpoints
	go func() { defer b.wg.Done(); b.auditMon.Run(ctx) }()                  // audit verified in the background
	go func() { defer b.wg.Done(); b.ops.RunRetention(ctx) }()              // retention sweep
	go func() { defer b.wg.Done(); b.reloader.Watch(ctx, 2*time.Second) }() // policy hot reload (--policy-watch only)
	b.wg.Add(1)
	go func() { defer b.wg.Done(); b.push.Run(ctx) }() // copies POSTed to the webhooks
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.children.Watch(ctx); err != nil {
			b.log.Error("child state cache watch stopped", zap.Error(err))
		}
	}()
	for _, name := range wire.IngestConsumers() {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.pipe.Consume(ctx, name); err != nil {
				b.log.Error("pipeline stopped", zap.String("consumer", name), zap.Error(err))
			}
		}()
	}
	b.serveHTTP() // edge.go
}

// Close stops the pipeline, the API, the connection and the embedded server.
// A second call does nothing.
func (b *Broker) Close() { b.closeOnce.Do(b.close) }

func (b *Broker) close() {
	if b.cancel != nil {
		b.cancel()
	}
	for _, l := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{b.httpSrv, b.httpLn}, {b.metricsSrv, b.metricsLn}} {
		if l.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = l.srv.Shutdown(ctx)
			cancel()
		}
		if l.ln != nil {
			l.ln.Close()
		}
	}
	b.wg.Wait()
	if b.nc != nil {
		_ = b.nc.Drain()
		for i := 0; i < 50 && !b.nc.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
