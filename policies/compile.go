package policies

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// ErrData marks a policy whose data documents (the matrix, the legend) do
// not load or break the contract; the error lists each problem with its file
// and line.
var ErrData = errors.New("policy data")

// ErrTests marks a policy refused because its own tests or scenario tables
// fail, or because it has no tests.
var ErrTests = errors.New("policy tests failed")

// PrebuiltQuery is asked once per policy, when it is compiled: the rule
// objects of the sharing matrix for every row and combination of
// conditions, which depend on data alone (matrix.rego, prebuilt).
const PrebuiltQuery = "data.ecm.matrix.prebuilt"

// PrebuiltPath is where a compiled policy keeps them for the policy to read
// (matrix.rego, rule), so that deciding an event reads a prebuilt object
// instead of building one from the matrix: that keeps a decision's cost what
// it was when the rules were Rego literals.
const PrebuiltPath = "matrix_rules"

// Compiled is a policy ready to evaluate: its files (no tests), its data,
// the matrix's prebuilt rule objects and the prepared query. The broker
// (broker/policy) and ecmctl's offline commands compile policies this one
// way, so that a draft checked offline is the policy the broker would serve.
type Compiled struct {
	Files    map[string]string
	Data     *Data
	Prebuilt map[string]any // nil for a policy without a matrix
	Query    rego.PreparedEvalQuery
}

// Compile compiles a policy's files (tests left out): its data documents
// must load and keep the contract (Data.Check against cat), its modules
// compile, the matrix's rule objects are built and query is prepared once.
// extra adds options (capabilities for a draft).
func Compile(ctx context.Context, files map[string]string, query string, cat Catalogue, extra ...func(*rego.Rego)) (*Compiled, error) {
	main := map[string]string{}
	modules := map[string]string{}
	for n, src := range files {
		if IsTestFile(n) {
			continue
		}
		main[n] = src
		if IsModule(n) {
			modules[n] = src
		}
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("loading policy: no .rego files")
	}
	data, err := LoadData(main)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	if ps := data.Check(cat); len(ps) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrData, ps)
	}
	c := &Compiled{Files: main, Data: data}
	if _, ok := data.Doc["matrix"]; ok {
		v, err := c.eval(ctx, modules, PrebuiltQuery, extra)
		if err != nil {
			return nil, fmt.Errorf("compiling policy: building the matrix's rules: %w", err)
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			c.Prebuilt = m
		}
	}
	opts := append([]func(*rego.Rego){rego.Query(query), rego.SetRegoVersion(ast.RegoV1), rego.Store(c.Store())}, extra...)
	for n, src := range modules {
		opts = append(opts, rego.Module(n, src))
	}
	if c.Query, err = rego.New(opts...).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("compiling policy: %w", err)
	}
	return c, nil
}

func (c *Compiled) eval(ctx context.Context, modules map[string]string, query string, extra []func(*rego.Rego)) (any, error) {
	opts := append([]func(*rego.Rego){rego.Query(query), rego.SetRegoVersion(ast.RegoV1), rego.Store(c.Store())}, extra...)
	for n, src := range modules {
		opts = append(opts, rego.Module(n, src))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil || len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, err
	}
	return rs[0].Expressions[0].Value, nil
}

// Store returns the policy's data for evaluation, with the prebuilt rule
// objects at PrebuiltPath. Values are kept as AST values, so that reads
// during evaluation convert nothing.
func (c *Compiled) Store() storage.Store {
	doc := c.Data.Doc
	if c.Prebuilt != nil {
		doc = maps.Clone(doc)
		doc[PrebuiltPath] = c.Prebuilt
	}
	return inmem.NewFromObjectWithOpts(doc, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
}

// TestReport is what running a policy's own tests found.
type TestReport struct {
	Run    int
	Failed []string // package.test, with what the test printed
}

// Test runs the Rego tests among files (the *_test.rego modules, with the
// policy's modules) against the compiled policy's data and the test data
// (data.testdata), as the broker runs them before a policy may serve.
func (c *Compiled) Test(ctx context.Context, files map[string]string) (TestReport, error) {
	testFiles := map[string]string{}
	for name, src := range files {
		if IsTestData(name) {
			testFiles[name] = src
		}
	}
	store := c.Store()
	if len(testFiles) > 0 {
		td, err := LoadData(testFiles)
		if err != nil {
			return TestReport{}, fmt.Errorf("%w: test data: %w", ErrTests, err)
		}
		doc := maps.Clone(c.Data.Doc)
		if c.Prebuilt != nil {
			doc[PrebuiltPath] = c.Prebuilt
		}
		maps.Copy(doc, td.Doc)
		store = inmem.NewFromObjectWithOpts(doc, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	}
	parsed := map[string]*ast.Module{}
	for name, src := range files {
		if !IsModule(name) {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return TestReport{}, fmt.Errorf("compiling policy: %w", err)
		}
		parsed[name] = m
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ch, err := tester.NewRunner().SetModules(parsed).SetDefaultRegoVersion(ast.RegoV1).
		SetStore(store).CapturePrintOutput(true).RunTests(ctx, nil)
	if err != nil {
		return TestReport{}, fmt.Errorf("%w: %v", ErrTests, err)
	}
	var rep TestReport
	for r := range ch {
		rep.Run++
		if !r.Pass() {
			f := r.Package + "." + r.Name
			if out := strings.TrimSpace(string(r.Output)); out != "" {
				f += " (" + strings.Join(strings.Fields(out), " ") + ")"
			}
			rep.Failed = append(rep.Failed, f)
		}
	}
	sort.Strings(rep.Failed)
	return rep, nil
}
