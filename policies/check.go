package policies

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/rego"
)

// DecisionQuery is what the broker asks a policy, once per event.
const DecisionQuery = "data.ecm.decision"

// DraftReport is what loading a draft policy found, check by check: what the
// broker runs before a policy may serve (its Verify), which `ecmctl policy
// check` runs offline and the broker runs on a proposal. One copy, so that
// a draft is refused or accepted for the same reasons everywhere.
type DraftReport struct {
	Data     error // the data does not load, or breaks the contract
	Compile  error // anything else that stops it compiling
	Tests    TestReport
	Tables   ScenarioReport
	Revision int // the matrix's revision, when it has one
	// Missing are the test files (Rego tests, scenario tables, test data)
	// of the live policy the draft no longer has: set by KeepsTests.
	Missing []string
}

// CheckDraft loads a draft as the broker does before a policy may serve:
// its data against the contract (cat), its modules compiled (extra: the
// options of a draft sent over HTTP, such as its capabilities), its Rego
// tests and its scenario tables.
func CheckDraft(ctx context.Context, files map[string]string, cat Catalogue, extra ...func(*rego.Rego)) DraftReport {
	var r DraftReport
	c, err := Compile(ctx, files, DecisionQuery, cat, extra...)
	if err != nil {
		if errors.Is(err, ErrData) {
			r.Data = err
		} else {
			r.Compile = err
		}
		return r
	}
	if m, ok, _ := c.Data.Matrix(); ok {
		r.Revision = m.Revision
	}
	if r.Tests, err = c.Test(ctx, files); err != nil {
		r.Compile = err
		return r
	}
	l, ok, err := c.Data.Legend()
	if err != nil || !ok {
		l, _ = BuiltinLegend()
	}
	if r.Tables, err = c.RunScenarios(ctx, files, l, cat); err != nil {
		r.Compile = err
	}
	return r
}

// KeepsTests records in r the test files of live that draft no longer has:
// a draft must carry at least the tests and scenario tables of the policy
// it replaces, or deleting a test would be a way to get any policy live.
func (r *DraftReport) KeepsTests(live, draft map[string]string) {
	r.Missing = []string{}
	for name := range live {
		if _, ok := draft[name]; IsTestFile(name) && !ok {
			r.Missing = append(r.Missing, name)
		}
	}
	sort.Strings(r.Missing)
}

// Refused reports whether the broker would refuse the draft.
func (r DraftReport) Refused() bool {
	return r.Data != nil || r.Compile != nil || len(r.Tests.Failed) > 0 || r.Tests.Run == 0 || len(r.Tables.Failures) > 0 ||
		len(r.Missing) > 0
}

// Verdict is one line: whether the broker would refuse the draft, and why.
func (r DraftReport) Verdict() string {
	switch {
	case r.Data != nil:
		var ps Problems
		if errors.As(r.Data, &ps) {
			return fmt.Sprintf("refused: the matrix or legend has %s, the first %s", count(len(ps), "problem", "problems"), ps[0])
		}
		return "refused: " + oneLine(r.Data.Error())
	case r.Compile != nil:
		return "refused: " + oneLine(r.Compile.Error())
	case r.Tests.Run == 0:
		return "refused: the policy has no tests (test_* rules in *_test.rego)"
	}
	var why []string
	if n := len(r.Tests.Failed); n > 0 {
		why = append(why, fmt.Sprintf("%d of %s fail", n, count(r.Tests.Run, "test", "tests")))
	}
	if n := len(r.Tables.Failures); n > 0 {
		why = append(why, fmt.Sprintf("%s in %s", count(n, "scenario failure", "scenario failures"), count(r.Tables.Run, "row", "rows")))
	}
	if len(r.Missing) > 0 {
		why = append(why, "it drops "+strings.Join(r.Missing, ", ")+" of the live policy")
	}
	if len(why) > 0 {
		return "refused: " + strings.Join(why, ", ")
	}
	return fmt.Sprintf("accepted: matrix revision %d keeps the contract, %s and %s pass", r.Revision,
		count(r.Tests.Run, "test", "tests"), count(r.Tables.Run, "scenario row", "scenario rows"))
}

// Details writes what failed, one problem a line, indented.
func (r DraftReport) Details(w io.Writer) {
	for _, c := range r.Checks() {
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
}

// Check is one check of a draft, in words.
type Check struct {
	Name     string
	Passed   bool
	Summary  string
	Problems []string
}

// The checks a draft must pass, in the order they run.
const (
	CheckCompile   = "compile"
	CheckContract  = "contract"
	CheckTests     = "policy tests"
	CheckScenarios = "scenario tables"
	CheckKept      = "tests kept"
)

// Checks lists the report check by check: compile, contract (the matrix
// and legend against the catalogue), policy tests, scenario tables and,
// when KeepsTests ran, tests kept. A check that could not run because an
// earlier one failed says so.
func (r DraftReport) Checks() []Check {
	notRun := func(name string) Check {
		return Check{Name: name, Summary: "not run: the draft does not load"}
	}
	var out []Check
	switch {
	case r.Data != nil:
		c := Check{Name: CheckContract, Summary: "the matrix or legend does not load or break the contract"}
		var ps Problems
		if errors.As(r.Data, &ps) {
			c.Summary = fmt.Sprintf("the matrix or legend has %s", count(len(ps), "problem", "problems"))
			for _, p := range ps {
				c.Problems = append(c.Problems, p.String())
			}
		} else {
			c.Problems = []string{oneLine(r.Data.Error())}
		}
		out = append(out, Check{Name: CheckCompile, Summary: "not run: the data does not load"}, c, notRun(CheckTests), notRun(CheckScenarios))
	case r.Compile != nil && r.Tests.Run == 0:
		out = append(out, Check{Name: CheckCompile, Summary: "the draft does not compile", Problems: []string{oneLine(r.Compile.Error())}},
			Check{Name: CheckContract, Passed: true, Summary: "the matrix and legend keep the contract"}, notRun(CheckTests), notRun(CheckScenarios))
	default:
		out = append(out, Check{Name: CheckCompile, Passed: true, Summary: "the draft compiles"},
			Check{Name: CheckContract, Passed: true, Summary: fmt.Sprintf("matrix revision %d and its legend keep the contract", r.Revision)})
		t := Check{Name: CheckTests, Passed: r.Tests.Run > 0 && len(r.Tests.Failed) == 0}
		switch {
		case r.Tests.Run == 0:
			t.Summary = "the policy has no tests (test_* rules in *_test.rego)"
		case len(r.Tests.Failed) > 0:
			t.Summary = fmt.Sprintf("%d of %s fail", len(r.Tests.Failed), count(r.Tests.Run, "test", "tests"))
		default:
			t.Summary = count(r.Tests.Run, "test passes", "tests pass")
		}
		for _, f := range r.Tests.Failed {
			t.Problems = append(t.Problems, "test failed: "+f)
		}
		s := Check{Name: CheckScenarios, Passed: r.Compile == nil && len(r.Tables.Failures) == 0}
		switch {
		case r.Compile != nil:
			s.Summary = "the scenario tables could not be run"
			s.Problems = []string{oneLine(r.Compile.Error())}
		case len(r.Tables.Failures) > 0:
			s.Summary = fmt.Sprintf("%s in %s", count(len(r.Tables.Failures), "scenario failure", "scenario failures"), count(r.Tables.Run, "row", "rows"))
		default:
			s.Summary = count(r.Tables.Run, "scenario row passes", "scenario rows pass")
		}
		for _, f := range r.Tables.Failures {
			s.Problems = append(s.Problems, f.String())
		}
		out = append(out, t, s)
	}
	switch {
	case r.Missing == nil: // KeepsTests did not run (ecmctl policy check offline)
	case len(r.Missing) == 0:
		out = append(out, Check{Name: CheckKept, Passed: true, Summary: "the draft keeps every test and scenario table of the live policy"})
	default:
		k := Check{Name: CheckKept, Summary: "the draft drops tests of the live policy: " + strings.Join(r.Missing, ", ")}
		for _, m := range r.Missing {
			k.Problems = append(k.Problems, m+" is in the live policy and not in the draft: a draft must keep the live policy's tests and scenario tables (change a row to show a change; do not delete it)")
		}
		out = append(out, k)
	}
	return out
}

func count(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
