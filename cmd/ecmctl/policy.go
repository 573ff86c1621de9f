package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/schemas"
)

// The policy commands work offline, on a policy directory (a draft an IG lead
// edits, or policies/ of a checkout), with the same code the broker loads a
// policy with (package policies): no broker and no token are needed.

var policyMatrixCmd = &command{
	name:    "policy matrix",
	summary: "print the sharing matrix of a policy directory (offline), or write it as a printable page",
	usage: `
policy matrix [DIR] [--html FILE]

Reads DIR/matrix.yaml and DIR/legend.yaml (without DIR: the policy built
into ecmctl, which is the broker's default) and prints, per event type, who
receives it on which basis, without which fields and when, the law it rests
on and the reason each decision gives; then what happens to everyone else.
The data is checked first, as the broker checks it: a mistake is reported
with its file and line.

--html writes a one-page printable sharing matrix with its legend (bases,
conditions and reasons in words for an IG lead and for a family).
--json prints the matrix and the legend as JSON.

Examples:
  ecmctl policy matrix
  ecmctl policy matrix ./policies-draft
  ecmctl policy matrix ./policies-draft --html matrix.html`,
	run: runPolicyMatrix,
}

var policyTestCmd = &command{
	name:    "policy test",
	summary: "run a policy directory's Rego tests, scenario tables and contract check (offline)",
	usage: `
policy test DIR

Loads the policy in DIR as the broker would (its data is checked against the
schemas and the contract), runs its Rego tests against its data, and decides
every row of its scenario tables (DIR/scenarios/*.csv). Prints each failure
with its file and line, then the counts; exits with status 1 on a failure.

Examples:
  ecmctl policy test ./policies-draft`,
	run: runPolicyTest,
}

var policyCheckCmd = &command{
	name:    "policy check",
	summary: "say in one line whether the broker would refuse a draft policy, and why (offline)",
	usage: `
policy check DIR

Runs what the broker runs before a policy may serve (the data's schemas and
contract, the Rego tests, the scenario tables) and says first, in one line,
whether the draft would be refused and why; then the details. Exits with
status 1 when it would be refused. To see which decisions a draft changes
over recorded history, run ecmctl impact --policy DIR against the broker.

Examples:
  ecmctl policy check ./policies-draft && echo ready for review`,
	run: runPolicyCheck,
}

// errRefused ends a policy check or test that found the draft would be refused.
var errRefused = errors.New("the policy would be refused")

// catalogue is the event catalogue a matrix is checked against.
var catalogue = policies.Catalogue{Names: schemas.Names(), HasField: schemas.HasField}

// policyFiles reads the policy in dir, or the built-in one when dir is "".
func policyFiles(dir string, withTests bool) (map[string]string, string, error) {
	var fsys fs.FS = policies.FS
	where := "the built-in policy"
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return nil, "", usagef("%s is not a policy directory", dir)
		}
		fsys, where = os.DirFS(dir), dir
	}
	files, err := policies.Read(fsys, withTests)
	if err != nil {
		return nil, "", err
	}
	return files, where, nil
}

func onePolicyDir(c *command, pos []string, needed bool) (string, error) {
	switch {
	case len(pos) > 1:
		return "", usagef("%s takes one policy directory, got %d arguments", c.name, len(pos))
	case len(pos) == 0 && needed:
		return "", usagef("%s needs a policy directory (ecmctl %s DIR)", c.name, c.name)
	case len(pos) == 0:
		return "", nil
	}
	return pos[0], nil
}

func runPolicyMatrix(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	html := fs.String("html", "", "write a printable page to `FILE` instead")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	dir, err := onePolicyDir(c, pos, false)
	if err != nil {
		return err
	}
	files, where, err := policyFiles(dir, false)
	if err != nil {
		return err
	}
	data, err := policies.LoadData(files)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if ps := data.Check(catalogue); len(ps) > 0 {
		return fmt.Errorf("%s: %w", where, ps)
	}
	m, ok, err := data.Matrix()
	if err != nil || !ok {
		return fmt.Errorf("%s has no sharing matrix (matrix.yaml): %v", where, err)
	}
	l, _, err := data.Legend()
	if err != nil {
		return err
	}
	reg, _, err := data.Agreements()
	if err != nil {
		return err
	}
	switch {
	case *html != "":
		f, err := os.Create(*html)
		if err != nil {
			return err
		}
		if err := writeMatrixHTML(f, where, m, l, reg); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Wrote the sharing matrix (revision %d, %d event types) to %s\n", m.Revision, len(m.Events), *html)
		return nil
	case a.conn.json:
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"matrix": data.Doc["matrix"], "legend": data.Doc["legend"], "agreements": data.Doc["agreements"]})
	}
	if err := printMatrix(a.stdout, where, m, l); err != nil {
		return err
	}
	return printAgreements(a.stdout, reg, time.Now())
}

// matrixLine is one cell of the matrix as printed.
type matrixLine struct {
	event, to, decision, when, source, reason string
	allow                                     bool
}

// matrixLines lists the cells of every row in the order a decision looks at
// them; a row that is the same as another says so.
func matrixLines(m *policies.Matrix, l *policies.Legend) [][]matrixLine {
	var rows [][]matrixLine
	for _, key := range m.Rows() {
		row := m.Events[key]
		if row.SameAs != "" {
			rows = append(rows, []matrixLine{{event: key, to: "as " + row.SameAs}})
			continue
		}
		var lines []matrixLine
		for _, col := range policies.Columns {
			for _, kind := range policies.Kinds(row.Columns[col]) {
				cell := row.Columns[col][kind]
				d := cell.Basis
				if len(cell.Remove) > 0 {
					d += " without " + strings.Join(cell.Remove, ", ")
				}
				if cell.Agreement != "" {
					d += " under agreement " + cell.Agreement
				}
				lines = append(lines, matrixLine{event: key, to: whom(col, kind, l), decision: d, when: cell.When,
					source: cell.Source, reason: cell.Reason, allow: l.Bases[cell.Basis].Allow})
			}
		}
		rows = append(rows, lines)
	}
	return rows
}

// whom says who a cell is for: "area: children's social care".
func whom(col, kind string, l *policies.Legend) string {
	name := "any agency"
	if a, ok := l.Agencies[kind]; ok {
		name = a.Name
	}
	switch {
	case col == "otherwise" && kind == "any":
		return "anyone else related"
	case col == "otherwise":
		return "otherwise: " + name
	case col == "named" && kind == "any":
		return "named by the broker"
	}
	return col + ": " + name
}

func printMatrix(w io.Writer, where string, m *policies.Matrix, l *policies.Legend) error {
	fmt.Fprintf(w, "Sharing matrix, revision %d (%s)\n\n", m.Revision, where)
	t := newTable(w, "", "EVENT", "TO", "DECISION", "WHEN", "SOURCE", "REASON")
	for _, lines := range matrixLines(m, l) {
		for i, ln := range lines {
			ev := ln.event
			if i > 0 {
				ev = ""
			}
			t.Row(ev, ln.to, ln.decision, ln.when, ln.source, ln.reason)
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprint(w, "\nAnyone neither in the child's area nor involved with the child gets no-relationship, whatever the matrix says (rule 2).\n")
	fmt.Fprint(w, "\nBases:\n")
	t = newTable(w, "  ")
	for _, code := range policies.Codes(l.Bases) {
		b := l.Bases[code]
		kind := "refuses"
		if b.Allow {
			kind = "sends"
		}
		t.Row(code, kind, b.Meaning, b.Source)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprint(w, "\nConditions:\n")
	t = newTable(w, "  ")
	for _, code := range policies.Codes(l.Conditions) {
		t.Row(code, l.Conditions[code].Meaning)
	}
	return t.Flush()
}

// printAgreements lists the register of data sharing agreements, the ones
// due for review (or ended) first.
func printAgreements(w io.Writer, reg map[string]policies.Agreement, now time.Time) error {
	if len(reg) == 0 {
		return nil
	}
	due := policies.DueForReview(reg, now)
	fmt.Fprintf(w, "\nData sharing agreements (agreements.yaml): %d, %d due for review or ended\n", len(reg), len(due))
	for _, d := range due {
		fmt.Fprintf(w, "  ! %s (%s): %s\n", d.ID, d.Agreement.Title, d.Says)
	}
	t := newTable(w, "  ", "AGREEMENT", "TITLE", "PARTIES", "DPIA", "REVIEW BY", "ENDS", "LAWFUL BASIS")
	for _, id := range policies.Codes(reg) {
		a := reg[id]
		t.Row(id, a.Title, strings.Join(a.Parties, ", "), a.DPIA, a.ReviewBy, a.Ends, a.LawfulBasis)
	}
	return t.Flush()
}

// checkDraft loads a policy as the broker's Verify does (policies.CheckDraft,
// the one copy the broker's proposals use too).
func checkDraft(ctx context.Context, files map[string]string) policies.DraftReport {
	return policies.CheckDraft(ctx, files, catalogue)
}

func runDraft(ctx context.Context, a *app, c *command, args []string) (policies.DraftReport, error) {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return policies.DraftReport{}, err
	}
	dir, err := onePolicyDir(c, pos, true)
	if err != nil {
		return policies.DraftReport{}, err
	}
	files, _, err := policyFiles(dir, true)
	if err != nil {
		return policies.DraftReport{}, err
	}
	return checkDraft(ctx, files), nil
}

func runPolicyTest(ctx context.Context, a *app, c *command, args []string) error {
	r, err := runDraft(ctx, a, c, args)
	if err != nil {
		return err
	}
	r.Details(a.stdout)
	fmt.Fprintf(a.stdout, "%s, %s\n", plural(r.Tests.Run, "test", "tests"), plural(r.Tables.Run, "scenario row", "scenario rows"))
	if r.Refused() {
		return fmt.Errorf("%w: %s", errRefused, strings.TrimPrefix(r.Verdict(), "refused: "))
	}
	return nil
}

func runPolicyCheck(ctx context.Context, a *app, c *command, args []string) error {
	r, err := runDraft(ctx, a, c, args)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, r.Verdict())
	r.Details(a.stdout)
	if r.Refused() {
		return errRefused
	}
	return nil
}
