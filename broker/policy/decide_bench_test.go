package policy

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/policies"
)

// The policy's cost per event, with 6, 60 and 900 registered participants,
// beside a trivial policy on the same input:
//
//	go test -run '^$' -bench Policy -benchtime 20000x ./broker/
//
// Targets (issue "statutory policies"): statutory ≤ 3x trivial, and ≤ 1.5x
// growth from 6 to 900 participants.

const trivialPolicy = `package ecm

allow := true
`

func benchConfig(areas int) *config.Config {
	c := &config.Config{}
	for a := 0; a < areas; a++ {
		area := "leeds"
		if a > 0 {
			area = fmt.Sprintf("area-%03d", a)
		}
		for _, ag := range []string{"la-social-care", "lea", "pct", "connexions", "yot", "police"} {
			c.Participants = append(c.Participants, config.Participant{ID: area + "/" + ag, Agency: ag, Area: area, Token: fmt.Sprintf("bench-token-%s-%s", area, ag)})
		}
	}
	if err := c.Check(); err != nil {
		panic(err)
	}
	return c
}

// benchInputs is a realistic mix: a 14-year-old with a health visitor
// involved from another area, a concern, consent for CAF; events of four kinds.
func benchInputs() (*api.IndexRecord, *api.Consent, []*event.Event) {
	dob := time.Now().AddDate(-14, -3, 0).Format("2006-01-02")
	x := &api.IndexRecord{UIN: "9434765919", Name: map[string]any{"given": "Ben", "family": "Brown"}, DOB: dob, Gender: "male",
		Address: map[string]any{"lines": []any{"9 Kirkgate"}, "postcode": "LS2 7DJ"}, Area: "leeds",
		Involvements: []api.Involvement{{Participant: "area-007/pct", Practitioner: map[string]any{"name": "Hana Visitor"}, Service: "school nursing", Active: true, Since: "2025-01-01T00:00:00Z"}},
		Concerns:     []api.Concern{{Participant: "leeds/police", Practitioner: map[string]any{"name": "PC Dale", "contact": map[string]any{"phone": "0113 496 0100"}}, FlaggedAt: "2025-06-01T00:00:00Z", Active: true}}}
	c := &api.Consent{Entries: []api.ConsentEntry{{Seq: 3, Kind: "granted", At: "2026-01-01T00:00:00Z", By: "leeds/lea", GivenBy: "child",
		Purposes: []any{"caf"}, Agencies: []any{"pct", "la-social-care"}}}}
	at := time.Now()
	ev := func(name, from string, data map[string]any) *event.Event {
		return &event.Event{ID: "e-" + name, Source: "/" + from, Type: "uk.gov.ecm." + name + ".v1", Name: name, Subject: x.UIN, Time: at, Publisher: from, Data: data}
	}
	return x, c, []*event.Event{
		ev("caf.completed", "leeds/lea", map[string]any{"needs": []any{map[string]any{"outcome": "be_healthy", "summary": "Asthma."}}}),
		ev("safeguarding.referral", "leeds/lea", map[string]any{"category": "neglect", "summary": "No coat.", "significant_harm": true}),
		ev("police.incident", "leeds/police", map[string]any{"kind": "domestic_abuse", "occurred_at": "2026-01-01T00:00:00Z", "child_present": true, "summary": "x"}),
		ev("index.address.changed", "leeds/pct", map[string]any{"address": map[string]any{"lines": []any{"1 Road"}, "postcode": "LS1 1AA"}, "area": "leeds"}),
	}
}

func benchPolicy(b *testing.B, fsys fstest.MapFS, query string) *Policy {
	modules := map[string]string{}
	for n, f := range fsys {
		modules[n] = string(f.Data)
	}
	p, err := compileModules(context.Background(), modules, query)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkPolicy(b *testing.B) {
	ctx := context.Background()
	x, c, events := benchInputs()
	statutory, err := Compile(ctx, policies.FS)
	if err != nil {
		b.Fatal(err)
	}
	trivial := benchPolicy(b, fstest.MapFS{"trivial.rego": {Data: []byte(trivialPolicy)}}, "data.ecm.allow")
	for _, areas := range []int{1, 10, 150} {
		reg := config.NewRegistry(benchConfig(areas))
		inputs := make([]map[string]any, len(events))
		cands := make([][]config.Participant, len(events))
		for i, e := range events {
			cands[i] = candidates(reg, e, x)
			inputs[i] = Input(e, x, c, cands[i])
		}
		n := len(reg.All())
		b.Run(fmt.Sprintf("trivial/participants=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := trivial.query.Eval(ctx, regoInput(inputs[i%len(inputs)])); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("statutory-cached/participants=%d", n), func(b *testing.B) {
			benchCached(b, reg, statutory)
		})
		b.Run(fmt.Sprintf("statutory/participants=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				k := i % len(inputs)
				if _, err := statutory.eval(ctx, inputs[k], cands[k], time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchCached runs the Decider (with its decision cache) over a realistic
// stream: 2,000 children of ages 0-19 in 150 areas' first ten, a third with
// an involvement from another area, a tenth with consent, and the four event
// kinds of benchInputs in turn. It reports the cache's hit rate.
func benchCached(b *testing.B, reg *config.Registry, p *Policy) {
	ctx := context.Background()
	_, c, events := benchInputs()
	type child struct {
		x *api.IndexRecord
		c *api.Consent
	}
	var kids []child
	for i := 0; i < 2000; i++ {
		x := &api.IndexRecord{UIN: fmt.Sprintf("c%d", i), DOB: time.Now().AddDate(-(i % 20), -(i % 12), -(i % 28)).Format("2006-01-02"), Area: "leeds"}
		if i%3 == 0 {
			x.Involvements = []api.Involvement{{Participant: fmt.Sprintf("area-%03d/pct", 1+i%9), Active: true}}
		}
		k := child{x: x}
		if i%10 == 0 {
			k.c = c
		}
		kids = append(kids, k)
	}
	d := NewDecider(p, reg, Options{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := kids[(i/len(events))%len(kids)]
		e := events[i%len(events)]
		if res := d.Decide(ctx, Request{Event: e, Index: k.x, Consent: k.c}); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	hits, misses := d.cache.stats()
	b.ReportMetric(100*float64(hits)/float64(max(hits+misses, 1)), "hit-%")
}
