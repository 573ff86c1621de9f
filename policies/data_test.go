package policies_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/schemas"
)

var catalogue = policies.Catalogue{Names: schemas.Names(), HasField: schemas.HasField}

func builtin(t *testing.T) map[string]string {
	t.Helper()
	files, err := policies.Read(policies.FS, false)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestReadKeepsModulesAndData(t *testing.T) {
	files := builtin(t)
	for _, want := range []string{"ecm.rego", "matrix.rego", "matrix.yaml", "legend.yaml"} {
		if _, ok := files[want]; !ok {
			t.Errorf("Read left out %s", want)
		}
	}
	for name := range files {
		if policies.IsTest(name) || strings.HasPrefix(name, policies.SchemaDir+"/") || strings.HasPrefix(name, ".") {
			t.Errorf("Read kept %s", name)
		}
	}
	withTests, _ := policies.Read(policies.FS, true)
	if _, ok := withTests["contract_test.rego"]; !ok {
		t.Error("Read with tests left out contract_test.rego")
	}
}

// The first revision of the matrix keeps the contract.
func TestBuiltinDataKeepsTheContract(t *testing.T) {
	d, err := policies.LoadData(builtin(t))
	if err != nil {
		t.Fatal(err)
	}
	if ps := d.Check(catalogue); len(ps) > 0 {
		t.Fatal(ps)
	}
	m, ok, err := d.Matrix()
	if err != nil || !ok || m.Revision != 2 {
		t.Fatalf("matrix %v %v %v", m, ok, err)
	}
	l, ok, err := d.Legend()
	if err != nil || !ok {
		t.Fatalf("legend %v %v", ok, err)
	}
	allow, deny := l.PolicyBases()
	if got := strings.Join(policies.Codes(allow), " "); got != "consent police-notification s11-safeguarding s12-11-override s12-concern s12-index s12-move" {
		t.Errorf("allowing bases %s", got)
	}
	if got := strings.Join(policies.Codes(deny), " "); got != "age-limit agreement-lapsed consent-withdrawn no-consent no-relationship no-rule out-of-scope" {
		t.Errorf("refusing bases %s", got)
	}
	for code, b := range l.Bases {
		if b.Meaning == "" || b.Family == "" || b.Source == "" {
			t.Errorf("basis %s lacks words or a source", code)
		}
	}
	if file, line := d.Line("matrix", "events", "police.incident", "area", "lea", "basis"); file != "matrix.yaml" || line == 0 {
		t.Errorf("police.incident / area / lea / basis is at %s:%d", file, line)
	}
}

// The schemas name the catalogue's event types and agency kinds; a test, since the
// policies package may not import the catalogue.
func TestSchemasNameTheCatalogue(t *testing.T) {
	var m struct {
		Defs map[string]struct {
			Enum []string `json:"enum"`
		} `json:"$defs"`
	}
	b, _ := policies.FS.ReadFile(policies.Schemas["matrix.yaml"])
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	rows := append(schemas.Names(), policies.MoveRow)
	sort.Strings(rows)
	if got := m.Defs["rowName"].Enum; !slices.Equal(got, rows) {
		t.Errorf("schema rows %v, want %v", got, rows)
	}
	kinds := append([]string{"any"}, schemas.Agencies()...)
	if got := m.Defs["kind"].Enum; !slices.Equal(got, kinds) {
		t.Errorf("schema kinds %v, want %v", got, kinds)
	}
	l, _ := policies.BuiltinLegend()
	if got := policies.Codes(l.Agencies); !slices.Equal(got, sorted(schemas.Agencies())) {
		t.Errorf("legend agencies %v", got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// edit returns the built-in files with one replacement in matrix.yaml.
func edit(t *testing.T, old, new string) map[string]string {
	t.Helper()
	files := builtin(t)
	if !strings.Contains(files["matrix.yaml"], old) {
		t.Fatalf("matrix.yaml no longer holds %q", old)
	}
	files["matrix.yaml"] = strings.Replace(files["matrix.yaml"], old, new, 1)
	return files
}

// lineOf is the line of the first s in text after the first after.
func lineOf(t *testing.T, text, after, s string) int {
	t.Helper()
	i := strings.Index(text, after)
	j := strings.Index(text[max(i, 0):], s)
	if i < 0 || j < 0 {
		t.Fatalf("%q after %q not found", s, after)
	}
	return strings.Count(text[:i+j], "\n") + 1
}

// Mistakes an IG lead could make, each refused with the line it is on.
func TestDataProblemsHaveLines(t *testing.T) {
	const lea = "          when: child-present-at-domestic-abuse\n          basis: police-notification"
	tests := []struct {
		name     string
		old, new string
		at       string // text on the line the problem must name (the first after "police.incident:")
		want     string
		check    bool // found by the contract check, not the schema
	}{
		{"unknown basis", lea, "          when: child-present-at-domestic-abuse\n          basis: police-tip-off", "basis: police-tip-off",
			`police.incident / area / lea: basis "police-tip-off" is not in the legend`, true},
		{"refusal where it sends", lea, "          when: child-present-at-domestic-abuse\n          basis: no-rule", "basis: no-rule",
			`basis "no-rule" refuses, but the area column sends`, true},
		{"field the event lacks", "remove: [data.summary]", "remove: [data.address]", "remove: [data.address]",
			"removes data.address, which police.incident events do not have", true},
		{"unknown condition", "when: child-present-at-domestic-abuse", "when: child-at-home", "when: child-at-home",
			`condition "child-at-home" is not in the legend`, true},
		{"misspelt field", "          reason: children's social care of the child's area is told of every police",
			"          reasons: children's social care of the child's area is told of every police", "reasons: children's",
			`"reasons" is not a field here`, false},
		{"unknown agency kind", "        lea:\n          when: child-present-at-domestic-abuse", "        school:\n          when: child-present-at-domestic-abuse",
			"        school:", `"school" is not allowed here; use one of any, la-social-care`, false},
		{"unknown event type", "    police.incident:\n", "    police.incidents:\n", "police.incidents:",
			`"police.incidents" is not allowed here`, false},
		{"refusal with a condition", "          reason: police incidents go to social care;", "          when: significant-harm\n          reason: police incidents go to social care;",
			"when: significant-harm", "must not have conditions (when)", false},
		{"duplicate cell", "        pct:\n          when: child-under-5-present-at-domestic-abuse", "        lea:\n          when: child-under-5-present-at-domestic-abuse",
			"        lea:\n          when: child-under-5", `mapping key "lea" already defined`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := edit(t, tt.old, tt.new)
			d, err := policies.LoadData(files)
			var ps policies.Problems
			switch {
			case tt.check && err == nil:
				ps = d.Check(catalogue)
			case tt.check:
				t.Fatalf("load: %v", err)
			case err == nil:
				t.Fatal("loaded")
			default:
				ps = err.(policies.Problems)
			}
			after := "police.incident"
			if tt.name == "unknown event type" {
				after = "police.incidents"
			}
			want := lineOf(t, files["matrix.yaml"], after+":\n", tt.at)
			found := false
			for _, p := range ps {
				found = found || p.File == "matrix.yaml" && p.Line == want && strings.Contains(p.Msg, tt.want)
			}
			if !found {
				t.Errorf("want matrix.yaml:%d: …%s…, got %v", want, tt.want, ps)
			}
		})
	}
}

func TestCheckFindsRowsAndReferences(t *testing.T) {
	files := edit(t, "    youthjustice.order:\n      same_as: caf.completed\n", "    youthjustice.order:\n      same_as: education.exclusion\n")
	d, err := policies.LoadData(files)
	if err != nil {
		t.Fatal(err)
	}
	ps := d.Check(catalogue).Error()
	if !strings.Contains(ps, "youthjustice.order: same_as education.exclusion, which is itself the same as caf.completed") {
		t.Errorf("same_as chain: %s", ps)
	}
	files = builtin(t)
	files["matrix.yaml"] = strings.Replace(files["matrix.yaml"], "    connexions.neet:\n      same_as: caf.completed\n", "", 1)
	d, _ = policies.LoadData(files)
	if ps := d.Check(catalogue).Error(); !strings.Contains(ps, "connexions.neet has no row") {
		t.Errorf("missing row: %s", ps)
	}
	files = builtin(t)
	delete(files, "legend.yaml")
	d, _ = policies.LoadData(files)
	if ps := d.Check(catalogue).Error(); !strings.Contains(ps, "needs a legend") {
		t.Errorf("no legend: %s", ps)
	}
	// A policy of Rego alone has nothing to check.
	d, _ = policies.LoadData(map[string]string{"ecm.rego": "package ecm"})
	if ps := d.Check(catalogue); len(ps) != 0 {
		t.Errorf("Rego alone: %v", ps)
	}
}

func TestDataFilesMergeAsOpaLoadsThem(t *testing.T) {
	d, err := policies.LoadData(map[string]string{"a.json": `{"x": {"y": 1}}`, "b.yaml": "x:\n  z: 2\n", "sub/c.yaml": "k: v\n"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d.Doc)
	if string(b) != `{"sub":{"k":"v"},"x":{"y":1,"z":2}}` {
		t.Errorf("merged %s", b)
	}
	if _, err := policies.LoadData(map[string]string{"a.json": `{"x": 1}`, "b.yaml": "x: 2\n"}); err == nil || !strings.Contains(err.Error(), "data.x is also defined") {
		t.Errorf("conflict: %v", err)
	}
	if _, err := policies.LoadData(map[string]string{"a.yaml": "x: [1\n"}); err == nil || !strings.HasPrefix(err.Error(), "a.yaml:") {
		t.Errorf("bad YAML: %v", err)
	}
}

func TestAgreementsAreHeldToTheRegister(t *testing.T) {
	// A cell naming an agreement that is not in the register, and one whose
	// agency kind is not a party, are refused with their lines.
	files := edit(t, "          agreement: operation-encompass\n", "          agreement: encompass-2\n")
	d, err := policies.LoadData(files)
	if err != nil {
		t.Fatal(err)
	}
	ps := d.Check(catalogue)
	if !strings.Contains(ps.Error(), `police.incident / area / lea: agreement "encompass-2" is not in the register (agreements.yaml)`) || ps[0].File != "matrix.yaml" || ps[0].Line == 0 {
		t.Errorf("unknown agreement: %v", ps)
	}
	files = builtin(t)
	files["agreements.yaml"] = strings.Replace(files["agreements.yaml"], "parties: [police, lea, pct]", "parties: [police, lea, school-nurse]", 1)
	d, _ = policies.LoadData(files)
	got := d.Check(catalogue).Error()
	for _, want := range []string{`agreement operation-encompass: party "school-nurse" is not an agency kind of the legend`, `police.incident / area / pct: agreement "operation-encompass" does not have pct among its parties`} {
		if !strings.Contains(got, want) {
			t.Errorf("parties: want %q in %s", want, got)
		}
	}
	// The schema holds the dates to YYYY-MM-DD, with the line.
	files = builtin(t)
	files["agreements.yaml"] = strings.Replace(files["agreements.yaml"], `review_by: "2027-01-15"`, `review_by: "15/01/2027"`, 1)
	if _, err := policies.LoadData(files); err == nil || !strings.Contains(err.Error(), "agreements.yaml:") || !strings.Contains(err.Error(), "review_by") {
		t.Errorf("bad date: %v", err)
	}
}

func TestAgreementsDueForReview(t *testing.T) {
	reg := map[string]policies.Agreement{
		"later":   {ReviewBy: "2027-12-01"},
		"soon":    {ReviewBy: "2027-01-15"},
		"overdue": {ReviewBy: "2026-11-01"},
		"ended":   {ReviewBy: "2027-06-01", Ends: "2026-12-01"},
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var got []string
	for _, d := range policies.DueForReview(reg, now) {
		got = append(got, d.ID+": "+d.Says)
	}
	want := []string{
		"ended: ended on 2026-12-01: the cells relying on it refuse (agreement-lapsed) until a revision renews it",
		"overdue: review overdue since 2026-11-01",
		"soon: review due by 2027-01-15 (in 43 days)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("due:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
