package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/tester"
	"go.uber.org/zap"
)

// PolicySource reads the policy modules, tests included, from a directory
// or an OPA bundle file (.tar.gz).
func PolicySource(path string) (fs.FS, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policies %s: %w", path, err)
	}
	if st.IsDir() {
		return os.DirFS(path), nil
	}
	return bundleFS{path}, nil
}

// bundleFS marks a bundle file; readSource opens it.
type bundleFS struct{ path string }

func (bundleFS) Open(string) (fs.File, error) { return nil, fs.ErrNotExist }

// readSource returns every .rego module of a policy source, tests included.
func readSource(src fs.FS) (map[string]string, error) {
	b, ok := src.(bundleFS)
	if !ok {
		return readModules(src, true)
	}
	f, err := os.Open(b.path)
	if err != nil {
		return nil, fmt.Errorf("opening bundle: %w", err)
	}
	defer f.Close()
	bdl, err := bundle.NewReader(f).WithRegoVersion(ast.RegoV1).Read()
	if err != nil {
		return nil, fmt.Errorf("reading bundle %s: %w", b.path, err)
	}
	modules := map[string]string{}
	for _, m := range bdl.Modules {
		modules[strings.TrimPrefix(m.Path, "/")] = string(m.Raw)
	}
	return modules, nil
}

// ErrPolicyTests marks a policy refused because its own tests fail.
var ErrPolicyTests = errors.New("policy tests failed")

// VerifyPolicy compiles a policy and runs its own _test.rego tests; a policy
// that fails to compile, has no tests or fails any is refused.
func VerifyPolicy(ctx context.Context, modules map[string]string) (*Policy, error) {
	main := map[string]string{}
	parsed := map[string]*ast.Module{}
	for name, src := range modules {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("compiling policy: %w", err)
		}
		parsed[name] = m
		if !strings.HasSuffix(name, "_test.rego") {
			main[name] = src
		}
	}
	if len(main) == 0 {
		return nil, fmt.Errorf("loading policy: no .rego files")
	}
	p, err := compileModules(ctx, main, DecisionQuery)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ch, err := tester.NewRunner().SetModules(parsed).SetDefaultRegoVersion(ast.RegoV1).RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicyTests, err)
	}
	var failed []string
	n := 0
	for r := range ch {
		n++
		if !r.Pass() {
			failed = append(failed, r.Package+"."+r.Name)
		}
	}
	sort.Strings(failed)
	switch {
	case len(failed) > 0:
		return nil, fmt.Errorf("%w: %d of %d failed: %s", ErrPolicyTests, len(failed), n, strings.Join(failed, ", "))
	case n == 0:
		return nil, fmt.Errorf("%w: the policy has no tests (test_* rules in *_test.rego)", ErrPolicyTests)
	}
	return p, nil
}

// ReloadPolicy reads the policy source again and, when it changed, verifies
// it and swaps it in. A refused policy leaves the serving one in place; the
// refusal is logged, counted and shown in /readyz.
func (b *Broker) ReloadPolicy(ctx context.Context) (changed bool, err error) {
	b.policyMu.Lock()
	defer b.policyMu.Unlock()
	modules, err := readSource(b.policySrc)
	if err == nil {
		main := map[string]string{}
		for n, s := range modules {
			if !strings.HasSuffix(n, "_test.rego") {
				main[n] = s
			}
		}
		if revisionOf(main) == b.decider.Policy().Revision {
			return false, nil
		}
		var p *Policy
		if p, err = VerifyPolicy(ctx, modules); err == nil {
			old := b.decider.Policy().Revision
			b.decider.Swap(p)
			b.refused.Store(nil)
			b.metrics.policyReloads.WithLabelValues("loaded").Inc()
			b.log.Info("policy reloaded", zap.String("from", old), zap.String("revision", p.Revision))
			return true, nil
		}
	}
	msg := err.Error()
	b.refused.Store(&msg)
	b.metrics.policyReloads.WithLabelValues("refused").Inc()
	b.log.Error("policy reload refused; the previous policy keeps serving", zap.String("revision", b.decider.Policy().Revision), zap.Error(err))
	return false, err
}

// watchPolicy polls the policy directory and reloads on change.
func (b *Broker) watchPolicy(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := fingerprint(b.policyPath)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if fp := fingerprint(b.policyPath); fp != last {
			last = fp
			_, _ = b.ReloadPolicy(ctx)
		}
	}
}

// fingerprint summarises names, sizes and times of the .rego files (or the
// bundle file) under path.
func fingerprint(path string) string {
	var sb strings.Builder
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || (d.IsDir() && p != path) && strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			fmt.Fprintf(&sb, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return sb.String()
}
