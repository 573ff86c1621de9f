package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Source reads the policy modules, tests included, from a directory
// or an OPA bundle file (.tar.gz).
func Source(path string) (fs.FS, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policies %s: %w", path, err)
	}
	if st.IsDir() {
		return os.DirFS(path), nil
	}
	return bundleFS{path}, nil
}

// bundleFS marks a bundle file; ReadSource opens it.
type bundleFS struct{ path string }

func (bundleFS) Open(string) (fs.File, error) { return nil, fs.ErrNotExist }

// ReadSource returns every file of a policy source, tests included: its
// .rego modules and data documents (a bundle's data as one data.json).
func ReadSource(src fs.FS) (map[string]string, error) {
	b, ok := src.(bundleFS)
	if !ok {
		return ReadModules(src, true)
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
	if len(bdl.Data) > 0 {
		raw, err := json.MarshalIndent(bdl.Data, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("reading bundle %s: %w", b.path, err)
		}
		modules["data.json"] = string(raw)
	}
	return modules, nil
}

// ErrPolicyTests marks a policy refused because its own tests fail.
var ErrPolicyTests = policies.ErrTests

// Verify compiles a policy (its data documents must load and keep the
// contract, policies.Data.Check), runs its own _test.rego tests against its
// data and decides the rows of its scenario tables (scenarios/*.csv); a
// policy that fails to compile, has no tests or fails any is refused. The refusal names the failing tests and what they printed (the
// contract test prints the cells at fault).
func Verify(ctx context.Context, modules map[string]string) (*Policy, error) {
	p, err := compileModules(ctx, modules, DecisionQuery)
	if err != nil {
		return nil, err
	}
	rep, err := p.compiled.Test(ctx, modules)
	switch {
	case err != nil:
		return nil, err
	case len(rep.Failed) > 0:
		return nil, fmt.Errorf("%w: %d of %d failed: %s", ErrPolicyTests, len(rep.Failed), rep.Run, strings.Join(rep.Failed, ", "))
	case rep.Run == 0:
		return nil, fmt.Errorf("%w: the policy has no tests (test_* rules in *_test.rego)", ErrPolicyTests)
	}
	sc, err := p.compiled.RunScenarios(ctx, modules, p.legend(), catalogue)
	if err != nil {
		return nil, err
	}
	if len(sc.Failures) > 0 {
		return nil, fmt.Errorf("%w: %d of %d scenario rows fail: %s", ErrPolicyTests, len(sc.Failures), sc.Run, sc.Failures.Error())
	}
	return p, nil
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
