// Package policies_test runs the Rego tests of the sharing policies from Go, so that
// `go test ./...` fails when a policy test fails, and measures what one decision costs.
// The policies themselves are the *.rego files beside this file (docs/policies.md).
package policies_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

func TestPolicies(t *testing.T) {
	results, err := tester.Run(context.Background(), ".")
	if err != nil {
		t.Fatalf("running the policy tests: %v", err)
	}
	if len(results) == 0 {
		t.Fatal("found no policy tests")
	}
	for _, r := range results {
		if !r.Pass() {
			t.Errorf("%s.%s (%s): fail=%v error=%v", r.Package, r.Name, r.Location, r.Fail, r.Error)
		}
	}
	t.Logf("%d policy tests run", len(results))
}

// prepare prepares the query as the broker does (broker/policy): the
// modules, and the data files in a store that keeps AST values.
func prepare(b *testing.B, query string, load bool) rego.PreparedEvalQuery {
	b.Helper()
	opts := []func(*rego.Rego){rego.Query(query)}
	if load {
		files, err := policies.Read(policies.FS, false)
		if err != nil {
			b.Fatal(err)
		}
		data, err := policies.LoadData(files)
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, rego.Store(inmem.NewFromObjectWithOpts(data.Doc, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))))
		for n, src := range files {
			if policies.IsModule(n) {
				opts = append(opts, rego.Module(n, src))
			}
		}
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		b.Fatalf("preparing %s: %v", query, err)
	}
	return pq
}

func benchmark(b *testing.B, query string, load bool, raw string) {
	pq := prepare(b, query, load)
	var in any
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		b.Fatalf("reading the input: %v", err)
	}
	ctx := context.Background()
	if rs, err := pq.Eval(ctx, rego.EvalInput(in)); err != nil || len(rs) != 1 {
		b.Fatalf("evaluating %s: %v %v", query, rs, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := pq.Eval(ctx, rego.EvalInput(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrivial is the floor: a prepared query that reads nothing, on the same input.
func BenchmarkTrivial(b *testing.B) {
	benchmark(b, "x := 1", false, policeIncident)
}

// BenchmarkDecision is one event: a police incident about a 4-year-old, 8 candidates.
func BenchmarkDecision(b *testing.B) {
	benchmark(b, "data.ecm.decision", true, policeIncident)
}

// BenchmarkDecisionConsent is a CAF under consent, 10 candidates.
func BenchmarkDecisionConsent(b *testing.B) {
	benchmark(b, "data.ecm.decision", true, cafWithConsent)
}

const child = `{"uin":"9434765919","name":{"given":"Amy","family":"Adams"},"dob":"2022-01-15",
"gender":"female","address":{"lines":["1 Street"],"postcode":"LS1 1AA"},"area":"leeds",
"involvements":[{"participant":"leeds/pct","active":true},{"participant":"york/lea","active":true}],
"concerns":[],"flags":{"shielded":false,"care_leaver":false,"learning_difficulty":false}}`

const policeIncident = `{"event":{"id":"1","source":"/leeds/police","type":"uk.gov.ecm.police.incident.v1",
"name":"police.incident","subject":"9434765919","time":"2026-05-02T10:00:00Z","publisher":"leeds/police",
"data":{"kind":"domestic_abuse","occurred_at":"2026-05-01T22:00:00Z","child_present":true,"summary":"x"}},
"child":` + child + `,"consent":null,"candidates":[
{"id":"leeds/la-social-care","area":"leeds","agency":"la-social-care"},{"id":"leeds/lea","area":"leeds","agency":"lea"},
{"id":"leeds/pct","area":"leeds","agency":"pct"},{"id":"leeds/police","area":"leeds","agency":"police"},
{"id":"leeds/yot","area":"leeds","agency":"yot"},{"id":"leeds/connexions","area":"leeds","agency":"connexions"},
{"id":"york/lea","area":"york","agency":"lea"},{"id":"york/pct","area":"york","agency":"pct"}]}`

const cafWithConsent = `{"event":{"id":"2","source":"/leeds/pct","type":"uk.gov.ecm.caf.completed.v1",
"name":"caf.completed","subject":"9434765919","time":"2026-05-02T10:00:00Z","publisher":"leeds/pct",
"data":{"needs":[]}},"child":` + child + `,"consent":{"entries":[
{"seq":1,"kind":"granted","at":"2026-01-10T09:00:00Z","by":"leeds/pct","given_by":"parent","purposes":["caf"],"agencies":["lea","police"]},
{"seq":2,"kind":"withdrawn","at":"2026-03-01T09:00:00Z","by":"leeds/lea","purposes":["caf"],"agencies":["police"]}]},
"candidates":[
{"id":"leeds/la-social-care","area":"leeds","agency":"la-social-care"},{"id":"leeds/lea","area":"leeds","agency":"lea"},
{"id":"leeds/pct","area":"leeds","agency":"pct"},{"id":"leeds/police","area":"leeds","agency":"police"},
{"id":"leeds/yot","area":"leeds","agency":"yot"},{"id":"leeds/connexions","area":"leeds","agency":"connexions"},
{"id":"york/la-social-care","area":"york","agency":"la-social-care"},{"id":"york/lea","area":"york","agency":"lea"},
{"id":"york/pct","area":"york","agency":"pct"},{"id":"york/police","area":"york","agency":"police"}]}`
