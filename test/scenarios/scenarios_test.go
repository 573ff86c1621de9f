// Package scenarios walks the sharing rules of shared/spec/domain.md end to
// end: a real broker with embedded NATS and the real policies, events
// published through the HTTP API as the agencies would, and then, for chosen
// events, every participant's deliveries checked field by field and every
// candidate's decision in the audit checked against what the spec says.
//
// The scenarios are a table (table_test.go); each has its own child (one
// UIN), so one broker serves them all. Ages are derived from today's date
// (dobForAge), so the suite does not rot.
package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
)

// step is one event a participant publishes.
type step struct {
	from, name string
	data       map[string]any
	// override is the s.12(11) justification extension, when given.
	override string
	// source replaces the event's CloudEvents source (to publish as someone else).
	source string
	// badUIN publishes the event about the child's UIN with a wrong check digit.
	badUIN bool
	// rejected: the broker must refuse the event at the door (HTTP 4xx),
	// decide nothing and deliver nothing.
	rejected bool
	// at replaces the event's time (RFC 3339), for an event exported late.
	at string
}

// got is what one receiving participant must get: the basis of the decision
// and the data paths ("data.summary") removed from its copy.
type got struct {
	basis  string
	remove []string
}

func g(basis string, remove ...string) got { return got{basis, remove} }

// expect is what must hold for one event after the scenario ran.
type expect struct {
	// step is the index of the published step; gen, when set, names the
	// event the broker generated because of that step ("index.transferred").
	step int
	gen  string
	// to is the exact set of participants that receive the event.
	to map[string]got
	// deny names candidates that must appear in the audit, denied with this basis.
	deny map[string]string
	// rest is the denial basis of every other candidate in the audit; when
	// empty, the audit may hold no candidate beyond to and deny.
	rest string
	// want builds the full data of a generated event from the published
	// events (for a published event the expected data is what was published).
	want func(evs []map[string]any) map[string]any
	// superseded: the audit record must say the event was older than what
	// it would have replaced in the child's state (spec rule 5).
	superseded bool
}

// scenario is a named sequence of steps and what must hold afterwards.
type scenario struct {
	name   string
	steps  []step
	expect []expect
}

// run is a scenario as published: its child and its events.
type run struct {
	sc     scenario
	child  string
	events []map[string]any
	codes  []int
}

// index of deliveries: event id -> participant -> copies.
type deliveryIndex map[string]map[string][]testenv.Delivery

func TestScenarios(t *testing.T) {
	start := time.Now()
	env := testenv.Start(t, "")
	table := scenarios()
	t.Logf("%d scenarios", len(table))
	if len(table) < 40 {
		t.Errorf("only %d scenarios, want at least 40", len(table))
	}
	names := map[string]bool{}
	runs := make([]*run, 0, len(table))
	for i, sc := range table {
		if names[sc.name] {
			t.Fatalf("two scenarios named %q", sc.name)
		}
		names[sc.name] = true
		r := &run{sc: sc, child: childUIN(i)}
		for _, s := range sc.steps {
			ev := testenv.Event(s.from, s.name, r.child, s.data)
			if s.override != "" {
				ev["override"] = s.override
			}
			if s.source != "" {
				ev["source"] = s.source
			}
			if s.at != "" {
				ev["time"] = s.at
			}
			if s.badUIN {
				ev["subject"] = r.child[:9] + string(rune('0'+(r.child[9]-'0'+1)%10))
			}
			resp := env.Publish(s.from, ev)
			r.events = append(r.events, ev)
			r.codes = append(r.codes, resp.Code)
			if !s.rejected && resp.Code != http.StatusAccepted {
				t.Errorf("%s: publishing %s as %s: %d %s", sc.name, s.name, s.from, resp.Code, resp.Body)
			}
		}
		runs = append(runs, r)
	}
	env.WaitIdle()

	idx := deliveryIndex{}
	for _, p := range env.Config.Participants {
		for _, d := range env.Deliveries(p.ID) {
			id, _ := d.Event["id"].(string)
			if idx[id] == nil {
				idx[id] = map[string][]testenv.Delivery{}
			}
			idx[id][p.ID] = append(idx[id][p.ID], d)
		}
	}
	participants := make([]string, 0, len(env.Config.Participants))
	for _, p := range env.Config.Participants {
		participants = append(participants, p.ID)
	}
	sort.Strings(participants)

	for _, r := range runs {
		t.Run(r.sc.name, func(t *testing.T) {
			checkRun(t, env, r, idx, participants)
		})
	}
	t.Logf("%d scenarios, %d events published, in %s", len(table), countSteps(table), time.Since(start).Round(time.Millisecond))
}

func countSteps(table []scenario) int {
	n := 0
	for _, sc := range table {
		n += len(sc.steps)
	}
	return n
}

// childUIN is the i-th scenario's child: a valid UIN of its own.
func childUIN(i int) string {
	for n := 0; ; n++ {
		if u, ok := uin.WithCheckDigit(fmt.Sprintf("943%06d", i*10+n)); ok {
			return u
		}
	}
}

func checkRun(t *testing.T, env *testenv.Env, r *run, idx deliveryIndex, participants []string) {
	recs := env.Audit(r.child)
	// One decided record per accepted step, none for a rejected one; every
	// other record is generated by the broker, caused by an accepted step.
	byStep := make([]*api.AuditRecord, len(r.sc.steps))
	generated := map[string][]*api.AuditRecord{} // causing event id -> records
	stepOf := map[string]int{}
	for i, ev := range r.events {
		stepOf[ev["id"].(string)] = i
	}
	copied := map[string][]api.Copy{} // event id -> its recorded copies
	for i := range recs {
		rec := &recs[i]
		if rec.Outcome == "rejected" {
			continue
		}
		if rec.Outcome == "copies" {
			if len(copied[rec.EventID]) > 0 {
				t.Errorf("%s (%s): two records of its copies", nameOf(rec.Type), rec.EventID)
			}
			copied[rec.EventID] = rec.Copies
			continue
		}
		if rec.Outcome != "decided" {
			t.Errorf("audit record of %s (%s): outcome %q %s", rec.Type, rec.EventID, rec.Outcome, rec.Error)
		}
		if rec.CausedBy != "" {
			if rec.Source != child.BrokerSource || rec.Publisher != "broker" {
				t.Errorf("generated %s: source %q publisher %q", rec.Type, rec.Source, rec.Publisher)
			}
			generated[rec.CausedBy] = append(generated[rec.CausedBy], rec)
			continue
		}
		i, ok := stepOf[rec.EventID]
		if !ok {
			t.Errorf("audit record of an event the scenario never published: %s %s", rec.Type, rec.EventID)
			continue
		}
		if byStep[i] != nil {
			t.Errorf("step %d (%s): two audit records", i, rec.Type)
		}
		byStep[i] = rec
	}
	for i, s := range r.sc.steps {
		id := r.events[i]["id"].(string)
		if s.rejected {
			if r.codes[i] < 400 || r.codes[i] >= 500 {
				t.Errorf("step %d (%s as %s): HTTP %d, want the event refused (4xx)", i, s.name, s.from, r.codes[i])
			}
			if byStep[i] != nil {
				t.Errorf("step %d (%s): refused, yet decided: %+v", i, s.name, byStep[i].Decisions)
			}
			if len(idx[id]) != 0 {
				t.Errorf("step %d (%s): refused, yet delivered to %v", i, s.name, keys(idx[id]))
			}
			continue
		}
		if byStep[i] == nil {
			t.Errorf("step %d (%s as %s): no audit record", i, s.name, s.from)
		}
	}

	// Every generated event must be one the scenario expects.
	expectedGen := map[string]bool{}
	for _, e := range r.sc.expect {
		if e.gen != "" {
			expectedGen[fmt.Sprint(e.step, e.gen)] = true
		}
	}
	for cause, list := range generated {
		i, ok := stepOf[cause]
		if !ok {
			t.Errorf("generated event caused by unknown event %s", cause)
			continue
		}
		for _, rec := range list {
			name := nameOf(rec.Type)
			if !expectedGen[fmt.Sprint(i, name)] {
				t.Errorf("step %d (%s) generated an unexpected %s", i, r.sc.steps[i].name, name)
			}
		}
	}

	// Invariants for every record: each candidate decided once, every denial
	// with a reason, every allowed decision delivered once with its basis,
	// nothing delivered that was not allowed, reviews marked.
	all := append([]*api.AuditRecord{}, byStep...)
	for _, list := range generated {
		all = append(all, list...)
	}
	for _, rec := range all {
		if rec == nil {
			continue
		}
		checkInvariants(t, rec, idx[rec.EventID], participants)
		checkCopies(t, rec, copied[rec.EventID], idx[rec.EventID])
	}

	for _, e := range r.sc.expect {
		checkExpect(t, r, e, byStep, generated, idx, participants)
	}
}

func checkInvariants(t *testing.T, rec *api.AuditRecord, copies map[string][]testenv.Delivery, participants []string) {
	t.Helper()
	what := nameOf(rec.Type)
	seen := map[string]bool{}
	review := false
	allowed := map[string]string{}
	for _, d := range rec.Decisions {
		if seen[d.Participant] {
			t.Errorf("%s: two decisions for %s", what, d.Participant)
		}
		seen[d.Participant] = true
		if !d.Allow && strings.TrimSpace(d.Reason) == "" {
			t.Errorf("%s: denial to %s (%s) has no reason", what, d.Participant, d.Basis)
		}
		if d.Allow {
			allowed[d.Participant] = d.Basis
			// Rule 9: an override decision is marked for review.
			if (d.Basis == "s12-11-override") != d.Review {
				t.Errorf("%s: %s allowed on %s with review=%v", what, d.Participant, d.Basis, d.Review)
			}
		}
		review = review || d.Review
	}
	if rec.Review != review {
		t.Errorf("%s: record review=%v, decisions' review=%v", what, rec.Review, review)
	}
	for _, p := range participants {
		n := len(copies[p])
		basis, ok := allowed[p]
		switch {
		case ok && n != 1:
			t.Errorf("%s: allowed to %s (%s) but delivered %d times", what, p, basis, n)
		case !ok && n != 0:
			t.Errorf("%s: delivered to %s without an allowing decision", what, p)
		case ok && copies[p][0].Basis != basis:
			t.Errorf("%s: %s's copy carries basis %q, the audit says %q", what, p, copies[p][0].Basis, basis)
		}
	}
}

// checkCopies: the record of an event's copies lists exactly the allowed
// participants, each copy stored at the sequence where the participant
// holds it, with the basis and removed fields of its decision (a disclosure
// is a copy that was stored).
func checkCopies(t *testing.T, rec *api.AuditRecord, recorded []api.Copy, copies map[string][]testenv.Delivery) {
	t.Helper()
	what := nameOf(rec.Type)
	allowed := map[string]api.Decision{}
	for _, d := range rec.Decisions {
		if d.Allow {
			allowed[d.Participant] = d
		}
	}
	if len(recorded) != len(allowed) {
		t.Errorf("%s: %d copies recorded, %d allowed", what, len(recorded), len(allowed))
	}
	for _, c := range recorded {
		d, ok := allowed[c.Participant]
		switch {
		case !ok:
			t.Errorf("%s: a copy recorded for %s, which was not allowed it", what, c.Participant)
		case c.Status != "delivered" || c.Basis != d.Basis || fmt.Sprint(c.Removed) != fmt.Sprint(nonNil(d.Remove)):
			t.Errorf("%s: %s's copy recorded as %+v, decided %+v", what, c.Participant, c, d)
		case len(copies[c.Participant]) != 1 || copies[c.Participant][0].Seq != c.DeliverySeq:
			t.Errorf("%s: %s's copy recorded at %d; it holds %+v", what, c.Participant, c.DeliverySeq, copies[c.Participant])
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func checkExpect(t *testing.T, r *run, e expect, byStep []*api.AuditRecord, generated map[string][]*api.AuditRecord,
	idx deliveryIndex, participants []string) {
	t.Helper()
	if e.step < 0 || e.step >= len(r.events) {
		t.Fatalf("expectation for step %d: the scenario has %d steps", e.step, len(r.events))
	}
	src := r.events[e.step]
	label := fmt.Sprintf("step %d %s", e.step, r.sc.steps[e.step].name)
	var rec *api.AuditRecord
	var want map[string]any
	if e.gen == "" {
		rec = byStep[e.step]
		want = normalize(src["data"]).(map[string]any)
	} else {
		label = fmt.Sprintf("%s generated by step %d (%s)", e.gen, e.step, r.sc.steps[e.step].name)
		for _, g := range generated[src["id"].(string)] {
			if nameOf(g.Type) == e.gen {
				if rec != nil {
					t.Errorf("%s: generated twice", label)
				}
				rec = g
			}
		}
		if e.want != nil {
			want = normalize(e.want(r.events)).(map[string]any)
		}
	}
	if rec == nil {
		t.Errorf("%s: no audit record", label)
		return
	}
	if rec.Superseded != e.superseded {
		t.Errorf("%s: audit record superseded=%v (%s), want %v", label, rec.Superseded, rec.Note, e.superseded)
	}

	// The audit: every candidate decided as the spec says.
	decided := map[string]api.Decision{}
	for _, d := range rec.Decisions {
		decided[d.Participant] = d
		if d.Allow {
			w, ok := e.to[d.Participant]
			switch {
			case !ok:
				t.Errorf("%s: allowed to %s (%s: %s), the spec does not allow it", label, d.Participant, d.Basis, d.Reason)
			case w.basis != d.Basis:
				t.Errorf("%s: allowed to %s on %s, want %s", label, d.Participant, d.Basis, w.basis)
			}
			continue
		}
		if w, ok := e.to[d.Participant]; ok {
			t.Errorf("%s: denied to %s (%s: %s), want allowed on %s", label, d.Participant, d.Basis, d.Reason, w.basis)
			continue
		}
		wantBasis, ok := e.deny[d.Participant]
		if !ok {
			wantBasis = e.rest
		}
		if wantBasis == "" {
			t.Errorf("%s: unexpected candidate %s (denied, %s)", label, d.Participant, d.Basis)
		} else if d.Basis != wantBasis {
			t.Errorf("%s: %s denied on %s (%s), want %s", label, d.Participant, d.Basis, d.Reason, wantBasis)
		}
	}
	for p := range e.to {
		if _, ok := decided[p]; !ok {
			t.Errorf("%s: %s is not a candidate, want it allowed on %s", label, p, e.to[p].basis)
		}
	}
	for p, b := range e.deny {
		if _, ok := decided[p]; !ok {
			t.Errorf("%s: %s is not a candidate, want it denied on %s", label, p, b)
		}
	}

	// The deliveries: exactly the receivers, each copy field by field.
	copies := idx[rec.EventID]
	for _, p := range participants {
		w, should := e.to[p]
		list := copies[p]
		if !should {
			if len(list) != 0 {
				t.Errorf("%s: %s received it (basis %s), the spec does not allow it", label, p, list[0].Basis)
			}
			continue
		}
		if len(list) != 1 {
			t.Errorf("%s: %s received %d copies, want 1", label, p, len(list))
			continue
		}
		d := list[0]
		if d.Basis != w.basis {
			t.Errorf("%s: %s's copy has basis %q, want %q", label, p, d.Basis, w.basis)
		}
		ev := d.Event
		wantType := "uk.gov.ecm." + r.sc.steps[e.step].name + ".v1"
		wantSource := src["source"]
		if e.gen != "" {
			wantType, wantSource = "uk.gov.ecm."+e.gen+".v1", child.BrokerSource
		}
		if ev["id"] != rec.EventID || ev["source"] != wantSource || ev["type"] != wantType || ev["subject"] != r.child {
			t.Errorf("%s: %s's copy has id %v source %v type %v subject %v", label, p, ev["id"], ev["source"], ev["type"], ev["subject"])
		}
		if e.gen == "" && src["override"] != nil && ev["override"] != src["override"] {
			t.Errorf("%s: %s's copy lost the override attribute", label, p)
		}
		data, ok := ev["data"].(map[string]any)
		if !ok {
			t.Errorf("%s: %s's copy has no data object", label, p)
			continue
		}
		for _, path := range w.remove {
			if has(data, path) {
				t.Errorf("%s: %s's copy still has %s", label, p, path)
			}
		}
		if want == nil {
			continue
		}
		exp := prune(without(want, w.remove))
		var diffs []string
		diff("data", exp, prune(normalize(data)), &diffs)
		for _, df := range diffs {
			t.Errorf("%s: %s's copy: %s", label, p, df)
		}
		if e.gen != "" && len(w.remove) == 0 {
			b, _ := json.Marshal(data)
			for _, prob := range schemas.Validate(wantType, b, time.Now()) {
				t.Errorf("%s: %s's copy does not conform to the %s schema: %s", label, p, e.gen, prob)
			}
		}
	}
}

func nameOf(typ string) string {
	n, _ := schemas.NameOf(typ)
	return n
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// normalize turns a Go value into what JSON decoding gives.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// without returns a deep copy of data less the paths "data.a.b".
func without(data map[string]any, paths []string) map[string]any {
	out := normalize(data).(map[string]any)
	for _, p := range paths {
		parts := strings.Split(strings.TrimPrefix(p, "data."), ".")
		m := out
		for i, k := range parts {
			if i == len(parts)-1 {
				delete(m, k)
				break
			}
			next, ok := m[k].(map[string]any)
			if !ok {
				break
			}
			m = next
		}
	}
	return out
}

func has(data map[string]any, path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "data."), ".")
	var v any = data
	for _, k := range parts {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

// prune drops objects left empty by a removal, so that removing data.gp
// and removing data.gp.practice (its only field) compare equal.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			x = prune(x)
			if m, ok := x.(map[string]any); ok && len(m) == 0 {
				continue
			}
			out[k] = x
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = prune(x)
		}
		return out
	}
	return v
}

// diff reports, path by path, how got differs from want.
func diff(path string, want, got any, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		gm, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want an object, got %s", path, short(got)))
			return
		}
		ks := map[string]bool{}
		for k := range w {
			ks[k] = true
		}
		for k := range gm {
			ks[k] = true
		}
		for _, k := range keys(ks) {
			wv, wok := w[k]
			gv, gok := gm[k]
			switch {
			case wok && !gok:
				*out = append(*out, fmt.Sprintf("%s.%s: missing, want %s", path, k, short(wv)))
			case !wok && gok:
				*out = append(*out, fmt.Sprintf("%s.%s: present (%s), want absent", path, k, short(gv)))
			default:
				diff(path+"."+k, wv, gv, out)
			}
		}
	case []any:
		gl, ok := got.([]any)
		if !ok || len(gl) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got)))
			return
		}
		for i := range w {
			diff(fmt.Sprintf("%s[%d]", path, i), w[i], gl[i], out)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got)))
		}
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 160 {
		return string(b[:160]) + "…"
	}
	return string(b)
}
