package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// DecisionQuery is what the broker asks the policies, once per event
// (docs/policy-input.md).
const DecisionQuery = "data.ecm.decision"

// ErrPolicy marks a policy that failed or answered out of contract; the
// event is then denied to everyone with basis policy-error.
var ErrPolicy = errors.New("policy error")

// Policy is a compiled, prepared set of Rego modules.
type Policy struct {
	query    rego.PreparedEvalQuery
	Revision string // sha256 of the modules, first 12 hex digits
	Modules  map[string]string
}

// Compile compiles the Rego modules (not the _test.rego files) of a
// policy directory and prepares the decision query once.
func Compile(ctx context.Context, fsys fs.FS) (*Policy, error) {
	modules, err := ReadModules(fsys, false)
	if err != nil {
		return nil, err
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("loading policy: no .rego files")
	}
	return compileModules(ctx, modules, DecisionQuery)
}

func compileModules(ctx context.Context, modules map[string]string, query string) (*Policy, error) {
	opts := []func(*rego.Rego){rego.Query(query), rego.SetRegoVersion(ast.RegoV1)}
	for n, src := range modules {
		opts = append(opts, rego.Module(n, src))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling policy: %w", err)
	}
	return &Policy{query: pq, Revision: revisionOf(modules), Modules: modules}, nil
}

// revisionOf names a set of modules: the first 12 hex digits of a sha256
// over their sorted names and contents. Every audit record carries it.
func revisionOf(modules map[string]string) string {
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, modules[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// CompileModules compiles policy modules (no tests) as Compile does.
func CompileModules(ctx context.Context, modules map[string]string) (*Policy, error) {
	return compileModules(ctx, modules, DecisionQuery)
}

// ReadModules returns the .rego modules of fsys, the _test.rego files too
// when withTests.
func ReadModules(fsys fs.FS, withTests bool) (map[string]string, error) {
	modules := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".rego") || (!withTests && strings.HasSuffix(path, "_test.rego")) {
			return nil
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		modules[path] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	return modules, nil
}

var allowBases = map[string]bool{"s11-safeguarding": true, "s12-index": true, "s12-concern": true, "s12-move": true,
	"police-notification": true, "consent": true, "s12-11-override": true}
var denyBases = map[string]bool{"out-of-scope": true, "age-limit": true, "no-relationship": true,
	"no-consent": true, "consent-withdrawn": true, "no-rule": true}

func (p *Policy) eval(ctx context.Context, input map[string]any, candidates []config.Participant, timeout time.Duration) ([]api.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rs, err := p.query.Eval(ctx, regoInput(input))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%w: %s is undefined", ErrPolicy, DecisionQuery)
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an object", ErrPolicy, DecisionQuery)
	}
	if len(obj) != len(candidates) {
		return nil, fmt.Errorf("%w: %d decisions for %d candidates", ErrPolicy, len(obj), len(candidates))
	}
	out := make([]api.Decision, len(candidates))
	for i, c := range candidates {
		v, ok := obj[c.ID].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: no decision for candidate %s", ErrPolicy, c.ID)
		}
		dec, err := decisionFrom(c.ID, v)
		if err != nil {
			return nil, err
		}
		out[i] = dec
	}
	return out, nil
}

func decisionFrom(id string, v map[string]any) (api.Decision, error) {
	d := api.Decision{Participant: id, Remove: []string{}}
	var ok bool
	if d.Allow, ok = v["allow"].(bool); !ok {
		return d, fmt.Errorf("%w: %s: allow is not a boolean", ErrPolicy, id)
	}
	if d.Basis, ok = v["basis"].(string); !ok || (d.Allow && !allowBases[d.Basis]) || (!d.Allow && !denyBases[d.Basis]) {
		return d, fmt.Errorf("%w: %s: basis %v is not a known basis for allow=%v", ErrPolicy, id, v["basis"], d.Allow)
	}
	d.Reason, _ = v["reason"].(string)
	d.Review, _ = v["review"].(bool)
	if r, present := v["remove"]; present {
		list, ok := r.([]any)
		if !ok {
			return d, fmt.Errorf("%w: %s: remove is not a list", ErrPolicy, id)
		}
		for _, x := range list {
			s, ok := x.(string)
			if !ok || !strings.HasPrefix(s, "data.") {
				return d, fmt.Errorf("%w: %s: remove path %v is not data.<field>", ErrPolicy, id, x)
			}
			d.Remove = append(d.Remove, s)
		}
	}
	return d, nil
}

// regoInput hands the input to OPA.
func regoInput(input map[string]any) rego.EvalOption { return rego.EvalInput(input) }
