package policies_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/policies"
)

func compileBuiltin(t *testing.T) (*policies.Compiled, map[string]string) {
	t.Helper()
	files, err := policies.Read(policies.FS, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := policies.Compile(context.Background(), files, "data.ecm.decision", catalogue)
	if err != nil {
		t.Fatal(err)
	}
	return c, files
}

// The scenario tables of the built-in policy come out as written.
func TestScenarioTables(t *testing.T) {
	c, files := compileBuiltin(t)
	l, _ := policies.BuiltinLegend()
	rep, err := c.RunScenarios(context.Background(), files, l, catalogue)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Failures {
		t.Error(f)
	}
	if rep.Run < 25 {
		t.Errorf("only %d scenario rows", rep.Run)
	}
	t.Logf("%d scenario rows", rep.Run)
}

// A row that does not come out as written fails with its file, line and
// what differs; so does a row that cannot be read.
func TestScenarioFailuresNameTheRow(t *testing.T) {
	c, files := compileBuiltin(t)
	l, _ := policies.BuiltinLegend()
	files = map[string]string{"scenarios/x.csv": "scenario,age,area,event,from,data,receives,refused\n" +
		"# a comment\n" +
		"school told,9,leeds,police.incident,leeds/police,kind=domestic_abuse; child_present=true,leeds/lea police-notification,leeds/pct consent\n" +
		"health told,9,leeds,police.incident,leeds/police,kind=domestic_abuse; child_present=true,leeds/pct police-notification without data.summary,\n" +
		"bad row,nine,leeds,police.incident,leeds/police,,,\n"}
	rep, err := c.RunScenarios(context.Background(), files, l, catalogue)
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Failures.Error()
	for _, want := range []string{
		"scenarios/x.csv:3: school told: leeds/lea receives on police-notification without data.summary, want police-notification",
		"scenarios/x.csv:3: school told: leeds/pct is refused on no-rule",
		"scenarios/x.csv:4: health told: leeds/pct is refused (no-rule",
		`scenarios/x.csv:5: bad row: age "nine" is not a number of years`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in %s", want, got)
		}
	}
	if rep.Run != 2 {
		t.Errorf("ran %d rows", rep.Run)
	}
	if _, ps := policies.ReadScenarios(map[string]string{"s.csv": "scenario,colour\n"}); len(ps) == 0 || !strings.Contains(ps.Error(), `column "colour"`) {
		t.Errorf("header: %v", ps)
	}
}
