package ops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/ops"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/uin"
)

func runImpact(t testing.TB, b *broker.Broker, modules map[string]string, req api.ImpactRequest) *api.ImpactReport {
	t.Helper()
	draft, err := policy.CompileModules(context.Background(), modules)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.Ops().Impact(context.Background(), draft, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Dropping the police-notification rule changes exactly two decisions:
// Amy's school and health visitor no longer hear of the incident she was
// present at. Only police incidents are decided again.
func TestImpactDropPoliceNotification(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	rep := runImpact(t, b, ops.DropPoliceNotification(t), api.ImpactRequest{})
	if rep.ChangedDecisions != 2 || rep.ChangedEvents != 1 || len(rep.Samples) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if strings.Join(rep.AffectedTypes, ",") != "uk.gov.ecm.police.incident.v1" || rep.Evaluated != 1 || rep.Unaffected != rep.Events+rep.Generated-1 {
		t.Errorf("affected %v, evaluated %d, unaffected %d of %d", rep.AffectedTypes, rep.Evaluated, rep.Unaffected, rep.Events)
	}
	if strings.Join(rep.ChangedRules, ",") != `data.matrix.events["police.incident"].area.lea,data.matrix.events["police.incident"].area.pct,data.matrix.events["police.incident"].involved` {
		t.Errorf("changed rules %v", rep.ChangedRules)
	}
	got := map[string]api.ParticipantImpact{}
	for _, p := range rep.Participants {
		got[p.Participant] = p
	}
	for _, id := range []string{"leeds/lea", "leeds/pct"} {
		p := got[id]
		if p.EventsLost != 1 || p.ChildrenLost != 1 || p.EventsGained != 0 ||
			fmt.Sprint(p.FieldsWithheld) != "map[data.child_present:1 data.kind:1 data.occurred_at:1]" {
			t.Errorf("%s: %+v", id, p)
		}
	}
	if len(got) != 2 {
		t.Errorf("participants %+v", rep.Participants)
	}
	for _, s := range rep.Samples {
		if s.Type != "uk.gov.ecm.police.incident.v1" || s.Child != "******5919" || !s.Current.Allow || s.Current.Basis != "police-notification" ||
			s.Draft.Allow || s.Draft.Basis != "no-rule" || s.CurrentRev != b.PolicyRevision() {
			t.Errorf("sample %+v", s)
		}
	}
	// The same over HTTP, as ecmctl sends it.
	code, body := httpDo(t, b, "POST", "/v1/impact", opsToken, api.ImpactRequest{Modules: ops.DropPoliceNotification(t)})
	var viaHTTP api.ImpactReport
	ndjsonResult(t, body, &viaHTTP)
	if code != 200 || viaHTTP.ChangedDecisions != 2 {
		t.Errorf("POST /v1/impact: %d %+v", code, viaHTTP)
	}
	if code, _ := httpDo(t, b, "POST", "/v1/impact", opsToken, api.ImpactRequest{Modules: map[string]string{"x.rego": "package ecm\nnot valid"}}); code != 422 {
		t.Errorf("a draft that does not compile: %d", code)
	}
	reach := map[string]string{"x.rego": "package ecm\n\ndecision := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"})\n"}
	if code, body := httpDo(t, b, "POST", "/v1/impact", opsToken, api.ImpactRequest{Modules: reach}); code != 422 || !strings.Contains(string(body), "http.send") {
		t.Errorf("a draft that calls out: %d %s", code, body)
	}
}

// The analysis only skips what it may: for drafts of every kind, its report
// is the report of deciding every event again.
func TestImpactSkipsOnlyUnaffected(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	mods, _ := policy.ReadModules(policies.FS, false)
	drafts := map[string]map[string]string{
		"unchanged":           mods,
		"police":              ops.DropPoliceNotification(t),
		"scope (every type)":  ops.NarrowScope(t),
		"comment only":        ops.DraftOf(t, "police.rego", "package ecm.police\n", "package ecm.police\n\n# a comment\n"),
		"matrix comment only": ops.DraftOf(t, "matrix.yaml", "    police.incident:\n", "    # a comment\n    police.incident:\n"),
	}
	for name, d := range drafts {
		t.Run(name, func(t *testing.T) {
			fast := runImpact(t, b, d, api.ImpactRequest{Samples: 100})
			ops.SetImpactEvaluateAll(true)
			full := runImpact(t, b, d, api.ImpactRequest{Samples: 100})
			ops.SetImpactEvaluateAll(false)
			if full.Evaluated != full.Events+full.Generated {
				t.Fatalf("full run evaluated %d of %d", full.Evaluated, full.Events+full.Generated)
			}
			if fast.ChangedDecisions != full.ChangedDecisions || fmt.Sprint(fast.Participants) != fmt.Sprint(full.Participants) {
				t.Errorf("analysis %d changes %+v\nfull %d changes %+v", fast.ChangedDecisions, fast.Participants, full.ChangedDecisions, full.Participants)
			}
			switch name {
			case "unchanged", "comment only", "matrix comment only":
				if fast.Evaluated != 0 || fast.ChangedDecisions != 0 || len(fast.ChangedRules) != 0 {
					t.Errorf("%+v", fast)
				}
			case "scope (every type)":
				if fast.Evaluated != fast.Events+fast.Generated || fast.ChangedDecisions == 0 {
					t.Errorf("%+v", fast)
				}
			}
		})
	}
}

// BenchmarkImpact analyses the draft that drops the police-notification
// rule over a million recorded events (ECM_BENCH_EVENTS) on this machine:
//
//	go test -run '^$' -bench Impact -benchtime 1x -timeout 60m ./broker/
//
// Target: ≤ 20 s. The recorded decisions are written by the benchmark, not
// by the pipeline (which would take far longer to decide a million events).
func BenchmarkImpact(bm *testing.B) {
	b := newOpsBroker(bm, opsConfig(), "")
	benchStore(bm, b, benchEvents(), 20)
	time.Sleep(5 * time.Second)
	for _, d := range []struct {
		name    string
		modules map[string]string
	}{
		{"drop-police-notification", ops.DropPoliceNotification(bm)},
		// A change every event type reaches: the worst case.
		{"narrow-scope", ops.NarrowScope(bm)},
	} {
		draft, err := policy.CompileModules(context.Background(), d.modules)
		if err != nil {
			bm.Fatal(err)
		}
		bm.Run(fmt.Sprintf("events=%d/draft=%s", benchEvents(), d.name), func(bm *testing.B) {
			for i := 0; i < bm.N; i++ {
				// The first analysis after the load reads the store cold; the
				// second finds its blocks cached. Both are reported.
				for _, run := range []string{"first", "again"} {
					rep, err := b.Ops().Impact(context.Background(), draft, api.ImpactRequest{}, nil)
					if err != nil {
						bm.Fatal(err)
					}
					bm.ReportMetric(rep.Seconds, run+"-s")
					bm.ReportMetric(float64(rep.Evaluated), "evaluated")
					bm.Logf("%s: %d events, %d evaluated (%d policy evaluations), %d unaffected, %d changed decisions: %.1fs (audit %.1fs, evaluation %.1fs)",
						run, rep.Events, rep.Evaluated, rep.PolicyEvaluations, rep.Unaffected, rep.ChangedDecisions, rep.Seconds, rep.AuditSeconds, rep.EvaluateSeconds)
				}
			}
		})
	}
}

// The analysis's answers are those of the plain algorithm (every record
// decoded whole, every event decided again, no grouping of equal inputs),
// on a history the pipeline decided for many children: index, consent and
// case events, a move to another area (which the broker answers with events
// of its own). Everything in the report but the timings and the counts of
// what was skipped is the same.
func TestImpactSameAsPlain(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	mix := benchMix()
	const kids = 12
	n := 0
	for step := range mix {
		for k := 0; k < kids; k++ {
			s := mix[step]
			data := s.data(k)
			if s.name == "index.address.changed" && k%3 == 0 {
				data = map[string]any{"address": map[string]any{"lines": []any{"3 Minster Yard"}, "postcode": "YO1 7HH"}, "area": "york"}
			}
			uin, _ := uinOf(k)
			ev := testEvent(s.from, s.name, uin, data)
			ev["time"] = time.Now().Add(-time.Duration(len(mix)*kids-n) * 7 * time.Hour).UTC().Format(time.RFC3339)
			mustPublish(t, b, s.from, ev)
			n++
		}
	}
	waitIdle(t, b)
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep := runImpact(t, b, ops.NarrowScope(t), api.ImpactRequest{})
		if rep.Events >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit holds %d decisions of the %d events published", rep.Events, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, d := range []struct {
		name    string
		modules map[string]string
	}{
		{"police", ops.DropPoliceNotification(t)},
		{"scope (every type)", ops.NarrowScope(t)},
	} {
		t.Run(d.name, func(t *testing.T) {
			fast := runImpact(t, b, d.modules, api.ImpactRequest{Samples: 1000})
			ops.SetImpactEvaluateAll(true)
			plain := runImpact(t, b, d.modules, api.ImpactRequest{Samples: 1000})
			ops.SetImpactEvaluateAll(false)
			if plain.PolicyEvaluations != plain.Events+plain.Generated || d.name != "police" && fast.PolicyEvaluations >= plain.PolicyEvaluations {
				t.Errorf("policy evaluations: %d grouped, %d plain of %d events", fast.PolicyEvaluations, plain.PolicyEvaluations, plain.Events)
			}
			if fast.ChangedDecisions == 0 || plain.Generated == 0 {
				t.Errorf("%d changed decisions, %d generated events: the comparison shows little", fast.ChangedDecisions, plain.Generated)
			}
			for _, r := range []*api.ImpactReport{fast, plain} {
				r.Seconds, r.AuditSeconds, r.EvaluateSeconds, r.PolicyEvaluations = 0, 0, 0, 0
				r.Evaluated, r.Unaffected, r.AffectedTypes = 0, 0, nil // what the scope analysis skips
			}
			f, _ := json.Marshal(fast)
			p, _ := json.Marshal(plain)
			if string(f) != string(p) {
				t.Errorf("analysis\n%s\nplain\n%s", f, p)
			}
		})
	}
}

// uinOf is the k-th UIN of the benchmark's children.
func uinOf(k int) (string, bool) {
	for i, found := 0, 0; ; i++ {
		if s, ok := uin.WithCheckDigit(fmt.Sprintf("7%08d", i)); ok {
			if found == k {
				return s, true
			}
			found++
		}
	}
}
