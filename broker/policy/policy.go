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
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/open-policy-agent/opa/v1/rego"
)

// DecisionQuery is what the broker asks the policies, once per event
// (docs/policy-input.md).
const DecisionQuery = "data.ecm.decision"

// ErrPolicy marks a policy that failed or answered out of contract; the
// event is then denied to everyone with basis policy-error.
var ErrPolicy = errors.New("policy error")

// Policy is a compiled, prepared set of Rego modules and the data documents
// they read (the sharing matrix and its legend).
type Policy struct {
	query    rego.PreparedEvalQuery
	Revision string // sha256 of the files, first 12 hex digits
	// Modules are the policy's files by name: Rego modules and data
	// documents (policies.IsModule, policies.IsData), no tests.
	Modules map[string]string
	// Data is the data documents, parsed (data.matrix, data.legend).
	Data *policies.Data
	// The bases the policy may give, allowing and refusing: its legend's.
	allow, deny map[string]bool
	compiled    *policies.Compiled
}

// Compile compiles the Rego modules (not the _test.rego files) and data
// documents of a policy directory and prepares the decision query once.
func Compile(ctx context.Context, fsys fs.FS) (*Policy, error) {
	modules, err := ReadModules(fsys, false)
	if err != nil {
		return nil, err
	}
	return compileModules(ctx, modules, DecisionQuery)
}

// compileModules compiles a policy's files (tests left out) as
// policies.Compile does: its data documents must load and keep the contract,
// its modules compile, the matrix's rule objects are built once and the
// query is prepared once.
func compileModules(ctx context.Context, files map[string]string, query string, extra ...func(*rego.Rego)) (*Policy, error) {
	c, err := policies.Compile(ctx, files, query, catalogue, extra...)
	if err != nil {
		return nil, err
	}
	p := &Policy{query: c.Query, Revision: revisionOf(c.Files), Modules: c.Files, Data: c.Data, compiled: c}
	if p.allow, p.deny, err = basesOf(c.Data); err != nil {
		return nil, err
	}
	return p, nil
}

// ErrPolicyData marks a policy refused because its data documents (the
// matrix, the legend) do not load or break the contract; the error lists
// each problem with its file and line.
var ErrPolicyData = policies.ErrData

// catalogue is the event catalogue the contract check holds a matrix to.
var catalogue = policies.Catalogue{Names: schemas.Names(), HasField: schemas.HasField}

// legend is the policy's legend, or the built-in one when it has none.
func (p *Policy) legend() *policies.Legend {
	l, ok, err := p.Data.Legend()
	if err != nil || !ok {
		l, _ = policies.BuiltinLegend()
	}
	return l
}

// basesOf returns the bases a policy may give: those of its legend, or of
// the built-in legend when it has none (a policy of Rego alone).
func basesOf(data *policies.Data) (allow, deny map[string]bool, err error) {
	l, ok, err := data.Legend()
	if err == nil && !ok {
		l, err = policies.BuiltinLegend()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrPolicyData, err)
	}
	allow, deny = l.PolicyBases()
	return allow, deny, nil
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

// ReadModules returns the files of a policy in fsys: its .rego modules (the
// _test.rego files too when withTests) and its data documents (.yaml,
// .json), as policies.Read.
func ReadModules(fsys fs.FS, withTests bool) (map[string]string, error) {
	return policies.Read(fsys, withTests)
}

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
		dec, err := p.decisionFrom(c.ID, v)
		if err != nil {
			return nil, err
		}
		out[i] = dec
	}
	return out, nil
}

// decisionFrom reads one decision; its basis must be one of the policy's
// legend, allowing when allow is true and refusing when false.
func (p *Policy) decisionFrom(id string, v map[string]any) (api.Decision, error) {
	d := api.Decision{Participant: id, Remove: []string{}}
	var ok bool
	if d.Allow, ok = v["allow"].(bool); !ok {
		return d, fmt.Errorf("%w: %s: allow is not a boolean", ErrPolicy, id)
	}
	if d.Basis, ok = v["basis"].(string); !ok || (d.Allow && !p.allow[d.Basis]) || (!d.Allow && !p.deny[d.Basis]) {
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

// RevisionOf is the revision a policy of these files would have: its tests
// do not count (policies.IsTestFile).
func RevisionOf(files map[string]string) string {
	main := map[string]string{}
	for n, s := range files {
		if !policies.IsTestFile(n) {
			main[n] = s
		}
	}
	return revisionOf(main)
}
