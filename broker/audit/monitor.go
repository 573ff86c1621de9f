package audit

import (
	"context"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit/chain"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"go.uber.org/zap"
)

// Chain states an AuditChainStatus reports.
const (
	ChainUnverified = "unverified"
	ChainWhole      = "whole"
	ChainBroken     = "broken"
)

// fullVerifyEvery is how often the background check starts again from the
// first record rather than from where it stopped: a block damaged after its
// records were verified is found within a day (and at every start).
const fullVerifyEvery = 24 * time.Hour

// Monitor verifies the audit in the background, so that damage shows on
// /readyz and in the metrics without anyone asking: at start it walks the
// whole of ECM_AUDIT, then every interval only what was stored since
// (keeping the verifier between checks), and the whole again once a day.
// A full verification run by an operator (GET /v1/audit/verify) is recorded
// by Observe.
type Monitor struct {
	reader *Reader
	keys   map[string]bool
	every  time.Duration
	log    *zap.Logger
	notify func(api.AuditChainStatus) // the metrics

	pass  sync.Mutex // one check at a time
	v     *chain.Verifier
	next  uint64 // the first sequence not yet verified
	began time.Time

	mu     sync.Mutex
	status api.AuditChainStatus
}

// NewMonitor checks the audit every interval with the trusted keys; notify,
// when given, is called with every status.
func NewMonitor(r *Reader, keys map[string]bool, every time.Duration, log *zap.Logger, notify func(api.AuditChainStatus)) *Monitor {
	if notify == nil {
		notify = func(api.AuditChainStatus) {}
	}
	if every <= 0 {
		every = 5 * time.Minute
	}
	return &Monitor{reader: r, keys: keys, every: every, log: log, notify: notify,
		status: api.AuditChainStatus{State: ChainUnverified}}
}

// Run checks at once and then every interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	m.Check(ctx)
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Check(ctx)
		}
	}
}

// Status is what the last check found.
func (m *Monitor) Status() api.AuditChainStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Check verifies the records stored since the last check (all of them the
// first time, and once a day) and returns the status.
func (m *Monitor) Check(ctx context.Context) api.AuditChainStatus {
	m.pass.Lock()
	defer m.pass.Unlock()
	if m.v == nil || time.Since(m.began) > fullVerifyEvery {
		m.v, m.next, m.began = chain.NewVerifier(wire.StreamAudit, m.keys, chain.Contiguous()), 1, time.Now()
	}
	next := m.next
	err := store.Scan(ctx, m.reader.js, wire.StreamAudit, store.ScanOpts{StartSeq: next}, func(msg store.Msg) error {
		m.v.Add(chain.Msg{Seq: msg.Seq, Subject: msg.Subject, Header: msg.Header, Data: msg.Data})
		next = msg.Seq + 1
		return nil
	})
	m.next = next // what was read is verified, even when the read stopped early
	if err != nil {
		if ctx.Err() != nil {
			return m.Status()
		}
		m.log.Warn("background audit verification could not read the audit; trying again at the next check", zap.Error(err))
		m.mu.Lock()
		m.status.Error = err.Error()
		st := m.status
		m.mu.Unlock()
		m.notify(st)
		return st
	}
	return m.record(m.v.Report())
}

// Observe records a full verification of ECM_AUDIT run by an operator with
// the broker's trusted keys. When it disagrees with the background check
// (the audit restored from a backup, or a block damaged after the background
// check read it), the next background check starts again from the first
// record.
func (m *Monitor) Observe(rep api.VerifyReport) {
	if was := m.Status().State; was != ChainUnverified && (was == ChainWhole) != rep.OK {
		m.pass.Lock()
		m.v = nil
		m.pass.Unlock()
	}
	m.record(rep)
}

func (m *Monitor) record(rep api.VerifyReport) api.AuditChainStatus {
	now := time.Now().UTC().Format(time.RFC3339)
	m.mu.Lock()
	prev := m.status
	st := api.AuditChainStatus{State: ChainWhole, CheckedAt: now, LastWhole: now, Records: rep.Records, BreakCount: rep.BreakCount}
	if !rep.OK {
		st.State, st.LastWhole, st.FirstBreak = ChainBroken, prev.LastWhole, rep.FirstBreak
	}
	m.status = st
	m.mu.Unlock()
	if st.State == ChainBroken && (prev.State != ChainBroken || prev.BreakCount != st.BreakCount) {
		m.log.Error("the audit is not as written: the chain is broken (docs/operations.md, \"A damaged audit\")",
			zap.Int("problems", st.BreakCount), zap.Uint64("first_seq", st.FirstBreak.Seq), zap.String("first_problem", st.FirstBreak.Problem))
	}
	m.notify(st)
	return st
}
