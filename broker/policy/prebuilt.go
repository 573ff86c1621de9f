package policy

import (
	"context"
	"fmt"
	"maps"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// prebuiltQuery is what the broker asks a policy once, when it loads it: the
// rule objects of the sharing matrix for every row and combination of
// conditions, which depend on data alone (policies/matrix.rego, prebuilt).
const prebuiltQuery = "data.ecm.matrix.prebuilt"

// prebuiltPath is where the broker keeps them for the policy to read
// (matrix.rego, rule), so that deciding an event reads a prebuilt object
// instead of building one from the matrix: that keeps a decision's cost
// what it was when the rules were Rego literals.
const prebuiltPath = "matrix_rules"

// store returns the policy's data for evaluation, with the prebuilt rule
// objects when the policy has them. Values are kept as AST values, so that
// reads during evaluation convert nothing.
func (p *Policy) store() storage.Store {
	doc := p.Data.Doc
	if p.prebuilt != nil {
		doc = maps.Clone(doc)
		doc[prebuiltPath] = p.prebuilt
	}
	return inmem.NewFromObjectWithOpts(doc, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
}

// prebuild evaluates prebuiltQuery over the policy's modules and data; nil
// when the policy has no matrix (a policy of Rego alone).
func (p *Policy) prebuild(ctx context.Context, modules map[string]string, extra []func(*rego.Rego)) error {
	if _, ok := p.Data.Doc["matrix"]; !ok {
		return nil
	}
	opts := append([]func(*rego.Rego){rego.Query(prebuiltQuery), rego.SetRegoVersion(ast.RegoV1), rego.Store(p.store())}, extra...)
	for n, src := range modules {
		opts = append(opts, rego.Module(n, src))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return fmt.Errorf("compiling policy: building the matrix's rules: %w", err)
	}
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		if v, ok := rs[0].Expressions[0].Value.(map[string]any); ok && len(v) > 0 {
			p.prebuilt = v
		}
	}
	return nil
}
