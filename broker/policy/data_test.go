package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"go.uber.org/zap"
)

func builtinFiles(t *testing.T, withTests bool) map[string]string {
	t.Helper()
	files, err := ReadModules(policies.FS, withTests)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The built-in policy with its tests passes Verify, data and all.
func TestVerifyBuiltin(t *testing.T) {
	p, err := Verify(context.Background(), builtinFiles(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Modules["matrix.yaml"]; !ok || p.compiled.Prebuilt == nil {
		t.Errorf("modules %v, prebuilt %v", len(p.Modules), p.compiled.Prebuilt != nil)
	}
	if !p.allow["s12-index"] || !p.deny["no-rule"] || p.deny["policy-error"] || p.allow["no-rule"] {
		t.Errorf("bases allow %v deny %v", p.allow, p.deny)
	}
}

// A draft whose matrix breaks the contract is refused before its tests run,
// naming the file, the line and the cell.
func TestPolicyDataRefused(t *testing.T) {
	files := builtinFiles(t, true)
	files["matrix.yaml"] = strings.Replace(files["matrix.yaml"], "basis: police-notification\n          remove: [data.summary]", "basis: police-tip-off\n          remove: [data.summary]", 1)
	_, err := Verify(context.Background(), files)
	if !errors.Is(err, ErrPolicyData) || !strings.Contains(err.Error(), `matrix.yaml:`) ||
		!strings.Contains(err.Error(), `police.incident / area / lea: basis "police-tip-off" is not in the legend`) {
		t.Fatalf("%v", err)
	}
	files = builtinFiles(t, false)
	files["legend.yaml"] = strings.Replace(files["legend.yaml"], "    s12-index:\n      allow: true", "    s12-index:\n      allow: yes please", 1)
	if _, err := CompileDraft(context.Background(), files); !errors.Is(err, ErrPolicyData) || !strings.Contains(err.Error(), "legend.yaml:") {
		t.Fatalf("%v", err)
	}
}

// The words the statutory rules give are the legend's: a legend changed
// alone is refused by the policy's own contract test, which says what.
func TestVerifyNamesTheFailingContractTest(t *testing.T) {
	files := builtinFiles(t, true)
	files["legend.yaml"] = strings.Replace(files["legend.yaml"], "text: the publisher does not receive its own event back (rule 2)", "text: the sender keeps its own copy", 1)
	_, err := Verify(context.Background(), files)
	if !errors.Is(err, ErrPolicyTests) || !strings.Contains(err.Error(), "test_statutory_reasons_are_the_legends") {
		t.Fatalf("%v", err)
	}
}

// A basis the legend does not list is a policy error, even when the
// policy's Rego gives it: the legend is the one list of bases.
func TestBasesComeFromTheLegend(t *testing.T) {
	ctx := context.Background()
	d := func(basis string, allow bool) string {
		a := "false"
		if allow {
			a = "true"
		}
		return "package ecm\n\ndecision[c.id] := {\"allow\": " + a + ", \"basis\": \"" + basis + "\", \"remove\": [], \"reason\": \"r\"} if some c in input.candidates\n"
	}
	legend := "legend:\n  bases:\n    told:\n      allow: true\n      meaning: told\n      family: told\n      source: law\n  reasons: {}\n  conditions: {}\n  relationships: {}\n  agencies: {}\n"
	tests := []struct {
		name  string
		files map[string]string
		ok    bool
	}{
		{"built-in legend, known basis", map[string]string{"ecm.rego": d("s12-index", true)}, true},
		{"built-in legend, unknown basis", map[string]string{"ecm.rego": d("told", true)}, false},
		{"built-in legend, allow and basis disagree", map[string]string{"ecm.rego": d("s12-index", false)}, false},
		{"own legend", map[string]string{"ecm.rego": d("told", true), "legend.yaml": legend}, true},
		{"own legend lacks it", map[string]string{"ecm.rego": d("s12-index", true), "legend.yaml": legend}, false},
		{"the broker's own", map[string]string{"ecm.rego": d("policy-error", false)}, false},
	}
	cands := []config.Participant{{ID: "leeds/pct", Area: "leeds", Agency: "pct"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompileModules(ctx, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.eval(ctx, map[string]any{"candidates": []any{map[string]any{"id": "leeds/pct"}}}, cands, time.Second)
			if (err == nil) != tt.ok {
				t.Errorf("err %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// The prebuilt rule objects decide every event as the matrix built per event
// does, for a child of each age band, with and without consent, and every
// event type of the catalogue.
func TestPrebuiltDecidesAsBuiltPerEvent(t *testing.T) {
	ctx := context.Background()
	p, err := Compile(ctx, policies.FS)
	if err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(DecisionQuery), rego.SetRegoVersion(ast.RegoV1),
		rego.Store(inmem.NewFromObject(p.Data.Doc))}
	for n, src := range p.Modules {
		if policies.IsModule(n) {
			opts = append(opts, rego.Module(n, src))
		}
	}
	built, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := config.NewRegistry(benchConfig(3))
	x, c, events := benchInputs()
	extra := []*event.Event{}
	for _, name := range []string{"index.gp.recorded", "index.concern.flagged", "education.missing", "consent.granted", "youthjustice.order", "connexions.neet"} {
		extra = append(extra, &event.Event{Type: "uk.gov.ecm." + name + ".v1", Name: name, Subject: x.UIN, Time: events[0].Time, Publisher: "leeds/lea",
			Data: map[string]any{"agencies": []any{"pct", "yot"}, "significant_harm": false}})
	}
	extra = append(extra,
		&event.Event{Type: "uk.gov.ecm.index.transferred.v1", Name: "index.transferred", Time: events[0].Time, Publisher: "broker", Data: map[string]any{"area": "leeds"}},
		&event.Event{Type: "uk.gov.ecm.index.concern.matched.v1", Name: "index.concern.matched", Time: events[0].Time, Publisher: "broker", Data: map[string]any{"recipients": []any{"area-007/pct", "leeds/police"}}},
		&event.Event{Type: "uk.gov.ecm.index.residence.disputed.v1", Name: "index.residence.disputed", Time: events[0].Time, Publisher: "broker", Data: map[string]any{"area": "leeds", "claimed_area": "area-001"}},
		&event.Event{Type: "uk.gov.ecm.index.address.changed.v1", Name: "index.address.changed", Time: events[0].Time, Publisher: "leeds/pct", Data: map[string]any{"area": "area-002"}},
		&event.Event{Type: "uk.gov.ecm.police.incident.v1", Name: "police.incident", Time: events[0].Time, Publisher: "leeds/police", Data: map[string]any{"kind": "domestic_abuse", "child_present": true}},
	)
	n := 0
	for _, years := range []int{3, 9, 12, 15, 19, 23} {
		child := *x
		child.DOB = time.Now().AddDate(-years, -1, 0).Format("2006-01-02")
		for _, consent := range []*api.Consent{nil, c} {
			for _, e := range append(events, extra...) {
				cands := candidates(reg, e, &child)
				in := Input(e, &child, consent, cands)
				got, err := p.eval(ctx, in, cands, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				rs, err := built.Eval(ctx, rego.EvalInput(in))
				if err != nil || len(rs) != 1 {
					t.Fatalf("%v %v", rs, err)
				}
				want := make([]api.Decision, len(cands))
				for i, cand := range cands {
					if want[i], err = p.decisionFrom(cand.ID, rs[0].Expressions[0].Value.(map[string]any)[cand.ID].(map[string]any)); err != nil {
						t.Fatal(err)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s, child of %d: prebuilt %+v\nbuilt %+v", e.Name, years, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d events compared", n)
}

// A bundle's data reaches the policy as data.json.
func TestBundleCarriesData(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name, body string) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	add("/ecm.rego", "package ecm\n\nx := data.answer\n")
	add("/data.json", `{"answer": 42}`)
	_ = tw.Close()
	_ = gz.Close()
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Source(path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := ReadSource(src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files["data.json"], `"answer": 42`) || files["ecm.rego"] == "" {
		t.Errorf("files %v", files)
	}
}

// Hot reload follows the data files too: a changed cell is a new revision,
// a broken one is refused with its line and the serving policy stays.
func TestReloadFollowsTheMatrix(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for name, src := range builtinFiles(t, true) {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src, _ := Source(dir)
	files, _ := ReadSource(src)
	p, err := Verify(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecider(p, config.NewRegistry(benchConfig(1)), Options{})
	r := NewReloader(d, src, dir, zap.NewNop())
	matrix := filepath.Join(dir, "matrix.yaml")
	text, _ := os.ReadFile(matrix)
	if ok, err := r.Reload(ctx); ok || err != nil {
		t.Fatalf("reload with nothing changed: %v %v", ok, err)
	}
	changed := strings.Replace(string(text), "reason: a referral goes to children's social care of the child's area, without consent (s.11)",
		"reason: a referral goes to children's social care of the child's area, without anyone's consent (s.11)", 1)
	if err := os.WriteFile(matrix, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Reload(ctx); !ok || err != nil || d.Policy().Revision == p.Revision {
		t.Fatalf("reload of a changed cell: %v %v", ok, err)
	}
	broken := strings.Replace(changed, "basis: s11-safeguarding", "basis: s11", 1)
	if err := os.WriteFile(matrix, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Reload(ctx); ok || !errors.Is(err, ErrPolicyData) || !strings.Contains(r.Refused(), "matrix.yaml:") {
		t.Fatalf("reload of a broken cell: %v %v %q", ok, err, r.Refused())
	}
}

// A policy whose scenario table is not kept is refused, naming the row.
func TestVerifyRunsTheScenarioTables(t *testing.T) {
	files := builtinFiles(t, true)
	files["scenarios/extra.csv"] = "scenario,age,area,event,from,data,receives,refused\n" +
		"schools are not told,9,leeds,police.incident,leeds/police,kind=domestic_abuse; child_present=true,leeds/la-social-care police-notification,leeds/lea no-rule\n"
	_, err := Verify(context.Background(), files)
	if !errors.Is(err, ErrPolicyTests) || !strings.Contains(err.Error(), "scenarios/extra.csv:2: schools are not told: leeds/lea receives on police-notification without data.summary, want it refused (no-rule)") {
		t.Fatalf("%v", err)
	}
}
