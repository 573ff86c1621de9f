package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
)

// Three broker instances share one server's streams. Each child's events are
// decided in the order they were published — a consent withdrawal is never
// overtaken by the CAF published after it — and every copy is delivered once.
func TestThreeInstancesKeepOrderPerChild(t *testing.T) {
	first := testenv.Start(t, "")
	envs := []*testenv.Env{first}
	for i := 0; i < 2; i++ {
		envs = append(envs, testenv.StartWith(t, broker.Options{NATSURL: first.Broker.NATSURL()}))
	}
	dob := time.Now().AddDate(-14, -2, 0).Format("2006-01-02")
	caf := func(summary string) map[string]any {
		return map[string]any{"needs": []any{map[string]any{"outcome": "be_healthy", "summary": summary}},
			"lead_professional": map[string]any{"name": "Sam Tutor", "contact": map[string]any{"phone": "0113 496 0050"}}}
	}
	const n = 60
	var children []string
	for i := 0; len(children) < n; i++ {
		if c, ok := uin.WithCheckDigit(fmt.Sprintf("7%08d", i)); ok {
			children = append(children, c)
		}
	}
	// Interleave the children's sequences and spread them over the three
	// instances' HTTP APIs, so no instance sees a child's events in a row.
	steps := []func(child string) (string, map[string]any){
		func(c string) (string, map[string]any) {
			return "leeds/lea", testenv.Event("leeds/lea", "index.child.registered", c, map[string]any{
				"name": map[string]any{"given": "Kit", "family": "Kay"}, "dob": dob, "gender": "unknown",
				"address": map[string]any{"lines": []any{"1 Lane"}, "postcode": "LS1 1AA"}, "area": "leeds"})
		},
		func(c string) (string, map[string]any) {
			return "leeds/lea", testenv.Event("leeds/lea", "consent.granted", c, map[string]any{
				"given_by": "child", "purposes": []any{"caf"}, "agencies": []any{"pct"}})
		},
		func(c string) (string, map[string]any) {
			return "leeds/lea", testenv.Event("leeds/lea", "caf.completed", c, caf("before withdrawal"))
		},
		func(c string) (string, map[string]any) {
			return "leeds/lea", testenv.Event("leeds/lea", "consent.withdrawn", c, map[string]any{"purposes": []any{"caf"}, "agencies": []any{"pct"}})
		},
		func(c string) (string, map[string]any) {
			return "leeds/lea", testenv.Event("leeds/lea", "caf.completed", c, caf("after withdrawal"))
		},
	}
	k := 0
	for _, step := range steps {
		for _, c := range children {
			from, ev := step(c)
			envs[k%3].MustPublish(from, ev)
			k++
		}
	}
	for _, e := range envs {
		e.WaitIdle()
	}
	got := map[string][]string{}
	seen := map[string]bool{}
	for _, d := range first.Deliveries("leeds/pct") {
		id := d.Event["id"].(string)
		if seen[id] {
			t.Errorf("leeds/pct received %s twice", id)
		}
		seen[id] = true
		if d.Event["type"] == "uk.gov.ecm.caf.completed.v1" {
			data := d.Event["data"].(map[string]any)
			summary := data["needs"].([]any)[0].(map[string]any)["summary"].(string)
			got[d.Event["subject"].(string)] = append(got[d.Event["subject"].(string)], summary)
		}
	}
	for _, c := range children {
		if len(got[c]) != 1 || got[c][0] != "before withdrawal" {
			t.Errorf("child ******%s: pct received CAFs %v, want only the one before the withdrawal", c[6:], got[c])
		}
		recs := first.Decisions(c)
		if len(recs) != len(steps) {
			t.Errorf("child ******%s: %d audit records, want %d", c[6:], len(recs), len(steps))
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].IngestSeq <= recs[i-1].IngestSeq {
				t.Errorf("child ******%s: audit out of ingest order at %d", c[6:], i)
			}
		}
	}
}
