package pipeline

import (
	"sync/atomic"

	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Deps are what the pipeline works with; the broker builds them.
type Deps struct {
	JS       jetstream.JetStream
	Config   *config.Config
	Registry *config.Registry
	Children *child.Store
	Decider  *policy.Decider
	Audit    *audit.Writer
	Metrics  *Metrics
	Log      *zap.Logger
	// AfterStored, when set, is called with the number of events this
	// process has taken through the pipeline, each time a batch's audit
	// records and copies are stored and before the child states are written
	// or the events acknowledged. The crash tests stop the process there.
	AfterStored func(events int64)
}

// Pipeline is the event path of one broker instance.
type Pipeline struct {
	Deps
	auditOK      atomic.Bool
	processed    atomic.Int64 // events taken through the pipeline by this process
	ingestHandle atomic.Value // jetstream.Stream of ECM_INGEST (ingest.go)
}

// New builds a pipeline; Consume runs it.
func New(d Deps) *Pipeline {
	if d.AfterStored == nil {
		d.AfterStored = func(int64) {}
	}
	p := &Pipeline{Deps: d}
	p.auditOK.Store(true)
	return p
}

// AuditWritable reports whether the last audit write succeeded: while it is
// false nothing is delivered (fail closed), and /readyz says so.
func (b *Pipeline) AuditWritable() bool { return b.auditOK.Load() }

// AuditFailing records that the audit cannot be written.
func (b *Pipeline) AuditFailing(err error) {
	if b.auditOK.Swap(false) {
		b.Log.Error("audit stream not writable: delivering nothing until it is", zap.Error(err))
	}
}
