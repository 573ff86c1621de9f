package policy

import (
	"context"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecm-broker/ecm-broker/policies"
	"go.uber.org/zap"
)

// Reloader keeps a Decider serving the policy of a source (a directory or an
// OPA bundle): when the source changes it verifies the new policy (compiles
// it and runs its own tests) and swaps it in. A refused policy leaves the
// serving one in place; the refusal is logged, reported to OnReload and kept
// for /readyz.
type Reloader struct {
	src  fs.FS
	path string // watched directory or bundle, when given
	d    *Decider
	log  *zap.Logger
	// OnReload is told "loaded" or "refused" after each reload that found a
	// change (metrics).
	OnReload func(outcome string)
	// OnSwap is told of each policy a reload swapped in, with all its files
	// (tests included), the revision it replaced and the operator who asked
	// for the reload ("" for the watch): the broker records the revision
	// and audits it (broker/govern).
	OnSwap func(ctx context.Context, p *Policy, files map[string]string, old, by string)

	mu      sync.Mutex
	refused atomic.Pointer[string]
}

// NewReloader reloads d's policy from src; path, when not empty, is the
// directory or bundle that Watch polls (--policy-watch; "" leaves hot
// reload off).
func NewReloader(d *Decider, src fs.FS, path string, log *zap.Logger) *Reloader {
	return &Reloader{src: src, path: path, d: d, log: log, OnReload: func(string) {},
		OnSwap: func(context.Context, *Policy, map[string]string, string, string) {}}
}

// Watching is the directory or bundle Watch polls, or "" when hot reload is
// off.
func (r *Reloader) Watching() string { return r.path }

// Refused is the reason the last changed policy was refused, or "" when the
// serving policy is the newest.
func (r *Reloader) Refused() string {
	if s := r.refused.Load(); s != nil {
		return *s
	}
	return ""
}

// Watched is the directory or bundle Watch polls, or "" when the policy
// is reloaded only on request (POST /v1/policy/reload).
func (r *Reloader) Watched() string { return r.path }

// Reload reads the source again and, when it changed, verifies the policy and
// swaps it in.
func (r *Reloader) Reload(ctx context.Context) (changed bool, err error) { return r.ReloadAs(ctx, "") }

// ReloadAs is Reload asked for by an operator (by), whom OnSwap is told.
func (r *Reloader) ReloadAs(ctx context.Context, by string) (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	modules, err := ReadSource(r.src)
	if err == nil {
		main := map[string]string{}
		for n, s := range modules {
			if !policies.IsTestFile(n) {
				main[n] = s
			}
		}
		if revisionOf(main) == r.d.Policy().Revision {
			return false, nil
		}
		var p *Policy
		if p, err = Verify(ctx, modules); err == nil {
			old := r.d.Policy().Revision
			r.d.Swap(p)
			r.refused.Store(nil)
			r.OnReload("loaded")
			r.log.Info("policy reloaded", zap.String("from", old), zap.String("revision", p.Revision), zap.String("by", by))
			r.OnSwap(ctx, p, modules, old, by)
			return true, nil
		}
	}
	msg := err.Error()
	r.refused.Store(&msg)
	r.OnReload("refused")
	r.log.Error("policy reload refused; the previous policy keeps serving", zap.String("revision", r.d.Policy().Revision), zap.Error(err))
	return false, err
}

// Watch polls the watched path every so often and reloads on change, until
// ctx ends. Without a path it returns at once.
func (r *Reloader) Watch(ctx context.Context, every time.Duration) {
	if r.path == "" {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := fingerprint(r.path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if fp := fingerprint(r.path); fp != last {
			last = fp
			_, _ = r.Reload(ctx)
		}
	}
}
