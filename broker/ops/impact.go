package ops

// Policy impact analysis (docs/operations.md, "Impact analysis"): what a
// draft policy would have decided for the recorded events, against what was
// decided (the audit), delivering nothing.
//
// Evaluating the statutory policy costs a few hundred microseconds an event,
// so a million events cannot all be evaluated again in seconds. Three things
// keep the work to what the draft can change:
//
//  1. scope (below): the rules that differ between the serving policy and
//     the draft are found, and for each event type, by following the rules
//     the decision can reach for that type, whether a changed rule is among
//     them. Events of a type no changed rule can reach are decided by the
//     draft exactly as by the serving policy (the same rules on the same
//     input), so their audited decisions stand without evaluation. This
//     holds only for records decided by the serving policy's revision;
//     records of another revision, and policy errors, are always evaluated.
//  2. The audit stream is read once with a small field scanner, not decoded.
//  3. The ingest stream is read once and only the children with an event to
//     evaluate have their state rebuilt (ChildState.Apply in order, as the
//     pipeline did); the evaluations run on every core, each child on one.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

const impactSamplesDefault = 20

// impactEvaluateAll makes every analysis decide every event again, each
// one (tests: what the scope analysis and the memo skip must not change the
// report).
var impactEvaluateAll bool

// impactRec is what pass A keeps of one audit record to evaluate again.
type impactRec struct {
	eventID   string
	name      string
	child     string // child key
	revision  string
	eventTime string
	decisions []api.Decision
	generated bool
}

// seqInfo is what pass A learns of one ingest sequence.
type seqInfo struct {
	child    int32 // index into passA.children
	evaluate bool  // some record of this sequence is to be evaluated
	stateful bool  // an index or consent event: it changes the child's state
}

// Impact runs the analysis of draft against the recorded events.
func (b *Ops) Impact(ctx context.Context, draft *policy.Policy, req api.ImpactRequest, progress func(any)) (*api.ImpactReport, error) {
	start := time.Now()
	if progress == nil {
		progress = func(any) {}
	}
	cur := b.decider.Policy()
	rep := &api.ImpactReport{DraftRevision: draft.Revision, CurrentRevision: cur.Revision, From: req.From, To: req.To,
		ChangedRules: []string{}, AffectedTypes: []string{}, Participants: []api.ParticipantImpact{}, Samples: []api.ImpactSample{}}
	var from, to time.Time
	var err error
	if req.From != "" {
		if from, err = time.Parse(time.RFC3339, req.From); err != nil {
			return nil, fmt.Errorf("from: must be an RFC 3339 time")
		}
	}
	if req.To != "" {
		if to, err = time.Parse(time.RFC3339, req.To); err != nil {
			return nil, fmt.Errorf("to: must be an RFC 3339 time")
		}
	}
	if req.Samples <= 0 {
		req.Samples = impactSamplesDefault
	}
	sc := newScope(cur.Modules, draft.Modules)
	sc.all = sc.all || impactEvaluateAll
	rep.ChangedRules = sc.changedList()
	// Pass A: the audit.
	ingest, err := b.js.Stream(ctx, wire.StreamIngest)
	if err != nil {
		return nil, err
	}
	st := ingest.CachedInfo().State
	a := &passA{infos: newSeqInfos(st.FirstSeq, st.LastSeq), recs: map[uint64][]*impactRec{}, childIdx: map[string]int32{}}
	err = store.Scan(ctx, b.js, wire.StreamAudit, store.ScanOpts{Progress: func(done, total uint64) {
		progress(map[string]any{"phase": "audit", "done": done, "total": total})
	}}, func(m store.Msg) error {
		return a.add(m.Data, from, to, cur.Revision, sc, rep)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the audit: %w", err)
	}
	for name := range sc.affectedSeen {
		rep.AffectedTypes = append(rep.AffectedTypes, schemas.TypeOf(name))
	}
	sort.Strings(rep.AffectedTypes)
	if sc.all {
		rep.AffectedTypes = []string{"*"}
	}
	rep.AuditSeconds = time.Since(start).Seconds()
	// Pass B: the ingest stream, for the children with something to evaluate.
	agg := newImpactAgg(req.Samples)
	if a.maxSeq > 0 {
		if err := b.passB(ctx, draft, sc, a, agg, rep, progress); err != nil {
			return nil, err
		}
	}
	rep.EvaluateSeconds = time.Since(start).Seconds() - rep.AuditSeconds
	agg.report(rep)
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// passA collects, from the audit, the sequences and children to evaluate.
type passA struct {
	infos    *seqInfos
	recs     map[uint64][]*impactRec
	childIdx map[string]int32
	children []string
	relevant []bool   // by child index: the child has a record to evaluate
	lastEval []uint64 // by child index: the last sequence to evaluate
	maxSeq   uint64
	// decisions are the audited decision lists by their raw JSON, strs the
	// child keys and revisions: each decoded or copied once.
	decisions map[string][]api.Decision
	strs      map[string]string
}

func (a *passA) child(key []byte) int32 {
	i, ok := a.childIdx[string(key)]
	if !ok {
		i = int32(len(a.children))
		a.childIdx[string(key)] = i
		a.children = append(a.children, string(key))
		a.relevant = append(a.relevant, false)
		a.lastEval = append(a.lastEval, 0)
	}
	return i
}

// auditFields are what pass A reads of a record; "decisions" only marks
// where to stop: AuditRecord's fields before it hold all the rest (an
// operator action's record has an outcome of its own, so its "action",
// further on, is not needed).
var auditFields = event.Fields{"ingest_seq": true, "event_id": true, "type": true, "child_key": true, "event_time": true,
	"decided_at": true, "policy_revision": true, "outcome": true, "caused_by": true, "decisions": true}

func (a *passA) add(data []byte, from, to time.Time, curRev string, sc *scope, rep *api.ImpactReport) error {
	// Raw values, turned into strings only when needed: a million records.
	var seq uint64
	var typ, child, decidedAt, revision, outcome, causedBy []byte
	err := event.ScanFieldsUntil(data, auditFields, "decisions", func(k string, v []byte) {
		if len(v) >= 2 && v[0] == '"' {
			v = v[1 : len(v)-1] // these event.Fields hold no escapes (ids, hashes, names, times)
		}
		switch k {
		case "ingest_seq":
			seq, _ = strconv.ParseUint(string(v), 10, 64)
		case "type":
			typ = v
		case "child_key":
			child = v
		case "decided_at":
			decidedAt = v
		case "policy_revision":
			revision = v
		case "outcome":
			outcome = v
		case "caused_by":
			causedBy = v
		}
	})
	decided := string(outcome) == "decided"
	if err != nil && err != event.ErrStopFields || seq == 0 || !decided && string(outcome) != "policy-error" {
		return nil // checkpoints, operator actions, rejections: nothing decided
	}
	if !from.IsZero() || !to.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, string(decidedAt))
		if err != nil || (!from.IsZero() && t.Before(from)) || (!to.IsZero() && !t.Before(to)) {
			return nil
		}
	}
	name := bytes.TrimSuffix(bytes.TrimPrefix(typ, []byte(schemas.TypePrefix)), []byte(schemas.TypeSuffix))
	generated := len(causedBy) > 0
	if generated {
		rep.Generated++
	} else {
		rep.Events++
	}
	ci := a.child(child)
	info, _ := a.infos.get(seq)
	info.child = ci
	if !generated {
		info.stateful = bytes.HasPrefix(name, []byte("index.")) || bytes.HasPrefix(name, []byte("consent."))
	}
	switch {
	case string(revision) != curRev:
		rep.OtherRevision++
	case !decided || sc.affectsBytes(name):
	default:
		rep.Unaffected++
		a.infos.set(seq, info)
		return nil
	}
	rec, ok := a.record(data, name, child, revision, generated)
	if !ok {
		a.infos.set(seq, info)
		return nil
	}
	info.evaluate = true
	a.infos.set(seq, info)
	a.relevant[ci] = true
	a.lastEval[ci] = max(a.lastEval[ci], seq)
	a.maxSeq = max(a.maxSeq, seq)
	a.recs[seq] = append(a.recs[seq], rec)
	return nil
}

// record keeps what an evaluation compares with: the record's own fields
// and its decisions. The decisions of most records repeat (the same
// candidates, the same answers), so each distinct list is decoded once and
// shared: a million records are not a million json.Unmarshal calls.
func (a *passA) record(data, name, child, revision []byte, generated bool) (*impactRec, bool) {
	if impactEvaluateAll {
		// The plain way, for the tests that compare: decode the whole record.
		var full api.AuditRecord
		if err := json.Unmarshal(data, &full); err != nil {
			return nil, false
		}
		return &impactRec{eventID: full.EventID, name: string(name), child: full.ChildKey, revision: full.PolicyRevision,
			eventTime: full.EventTime, decisions: full.Decisions, generated: generated}, true
	}
	r := &impactRec{name: string(name), child: a.intern(child), revision: a.intern(revision), generated: generated}
	var raw []byte
	bad := false
	err := event.ScanFields(data, recordFields, func(k string, v []byte) {
		switch k {
		case "event_id":
			r.eventID, bad = jsonString(v, bad)
		case "event_time":
			r.eventTime, bad = jsonString(v, bad)
		case "decisions":
			raw = v
		}
	})
	if err != nil || bad {
		return nil, false
	}
	if ds, ok := a.decisions[string(raw)]; ok {
		r.decisions = ds
		return r, true
	}
	if err := json.Unmarshal(raw, &r.decisions); err != nil {
		return nil, false
	}
	if a.decisions == nil {
		a.decisions = map[string][]api.Decision{}
	}
	a.decisions[string(raw)] = r.decisions
	return r, true
}

var recordFields = event.Fields{"event_id": true, "event_time": true, "decisions": true}

// intern returns a string equal to b, one copy for every record naming it.
func (a *passA) intern(b []byte) string {
	if s, ok := a.strs[string(b)]; ok {
		return s
	}
	if a.strs == nil {
		a.strs = map[string]string{}
	}
	s := string(b)
	a.strs[s] = s
	return s
}

// jsonString is the string a raw JSON value holds (decoded only when it
// has escapes); bad is set when it is not a string.
func jsonString(v []byte, bad bool) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", true
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), bad
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true
	}
	return s, bad
}

// seqInfos maps ingest sequences to what pass A learnt of them: a slice
// over the stream's sequences, a map for any outside it.
type seqInfos struct {
	first uint64
	dense []seqInfo
	known []bool
	more  map[uint64]seqInfo
}

func newSeqInfos(first, last uint64) *seqInfos {
	si := &seqInfos{first: first, more: map[uint64]seqInfo{}}
	if last >= first && last-first < 50_000_000 {
		n := last - first + 1
		si.dense, si.known = make([]seqInfo, n), make([]bool, n)
	}
	return si
}

func (si *seqInfos) get(seq uint64) (seqInfo, bool) {
	if i := seq - si.first; seq >= si.first && i < uint64(len(si.dense)) {
		return si.dense[i], si.known[i]
	}
	v, ok := si.more[seq]
	return v, ok
}

func (si *seqInfos) set(seq uint64, v seqInfo) {
	if i := seq - si.first; seq >= si.first && i < uint64(len(si.dense)) {
		si.dense[i], si.known[i] = v, true
		return
	}
	si.more[seq] = v
}

// impactJob is one ingest message of a child with something to evaluate.
type impactJob struct {
	seq     uint64
	subject string
	header  map[string][]string
	data    []byte
}

func (b *Ops) passB(ctx context.Context, draft *policy.Policy, sc *scope, a *passA, agg *impactAgg, rep *api.ImpactReport, progress func(any)) error {
	// Equal inputs have equal decisions: the decider's cache, keyed on what the
	// draft reads, evaluates each distinct one once.
	dec := policy.NewDecider(draft, b.registry, policy.Options{Timeout: 5 * time.Second, CacheKey: sc.cacheKey,
		CacheSize: 1_000_000, NoCache: impactEvaluateAll})
	workers := runtime.GOMAXPROCS(0)
	jobs := make([]chan impactJob, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range jobs {
		jobs[i] = make(chan impactJob, 1024)
		wg.Add(1)
		go func(in chan impactJob) {
			defer wg.Done()
			w := &impactWorker{b: b, sc: sc, draft: dec, a: a, agg: agg, states: map[int32]*impactChild{}}
			for j := range in {
				if err := w.do(ctx, j); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			rep.Evaluated += w.evaluated
			rep.Missing += w.missing
			mu.Unlock()
		}(jobs[i])
	}
	seen := map[uint64]bool{}
	err := store.Scan(ctx, b.js, wire.StreamIngest, store.ScanOpts{LastSeq: a.maxSeq, Progress: func(done, total uint64) {
		progress(map[string]any{"phase": "evaluate", "done": done, "total": min(total, a.maxSeq)})
	}}, func(m store.Msg) error {
		seq := m.Seq
		info, ok := a.infos.get(seq)
		if !ok || !a.relevant[info.child] || seq > a.lastEval[info.child] || !info.evaluate && !info.stateful {
			return nil // a case event that changes nothing and is not evaluated: not even decoded
		}
		seen[seq] = true
		h := fnv.New32a()
		h.Write([]byte(a.children[info.child]))
		jobs[h.Sum32()%uint32(workers)] <- impactJob{seq: seq, subject: m.Subject, header: m.Header, data: m.Data}
		return nil
	})
	for _, c := range jobs {
		close(c)
	}
	wg.Wait()
	if err != nil {
		return fmt.Errorf("reading the recorded events: %w", err)
	}
	_, misses := dec.CacheStats()
	rep.PolicyEvaluations = int(misses)
	if impactEvaluateAll {
		rep.PolicyEvaluations = rep.Evaluated
	}
	for seq, recs := range a.recs {
		if !seen[seq] {
			rep.Missing += len(recs) // erased or expired: the audit outlives the event
		}
	}
	return firstErr
}

// impactChild is a child's state as of the next event, in a worker.
type impactChild struct {
	state child.State
}

type impactWorker struct {
	b         *Ops
	sc        *scope
	draft     *policy.Decider
	a         *passA
	agg       *impactAgg
	states    map[int32]*impactChild
	evaluated int
	missing   int
}

func (w *impactWorker) do(ctx context.Context, j impactJob) error {
	info, _ := w.a.infos.get(j.seq)
	recs := w.a.recs[j.seq]
	cs := w.states[info.child]
	if cs == nil {
		cs = &impactChild{}
		w.states[info.child] = cs
	}
	evTime := ""
	for _, r := range recs {
		if !r.generated {
			evTime = r.eventTime
		}
	}
	ev, err := event.Stored(j.subject, j.header, j.data, evTime)
	if err != nil {
		w.missing += len(recs)
		return nil
	}
	stateful := strings.HasPrefix(ev.Name, "index.") || strings.HasPrefix(ev.Name, "consent.")
	for _, r := range recs {
		if !r.generated {
			w.evaluate(ctx, j.seq, ev, cs, r)
		}
	}
	if !stateful {
		return nil
	}
	step := cs.state.Next(ev, j.seq, w.b.registry.Serves)
	cs.state = step.After
	var gens []*impactRec
	for _, r := range recs {
		if r.generated {
			gens = append(gens, r)
		}
	}
	if len(gens) == 0 {
		return nil
	}
	for _, g := range step.Generated {
		for _, r := range gens {
			if r.eventID == g.ID {
				w.evaluate(ctx, j.seq, g, cs, r)
			}
		}
	}
	return nil
}

// evaluate decides ev with the draft against the child's state and compares
// with the audited decisions. The candidates are the audited ones, so that
// only the policy differs.
func (w *impactWorker) evaluate(ctx context.Context, seq uint64, ev *event.Event, cs *impactChild, r *impactRec) {
	cands := make([]config.Participant, 0, len(r.decisions))
	for _, d := range r.decisions {
		p, ok := w.b.registry.Participant(d.Participant)
		if !ok {
			area, agency, _ := strings.Cut(d.Participant, "/")
			p = config.Participant{ID: d.Participant, Area: area, Agency: agency}
		}
		cands = append(cands, p)
	}
	if len(cands) == 0 {
		cands = nil // none audited: the registry's candidates
	}
	res := w.draft.Decide(ctx, policy.Request{Event: ev, Index: cs.state.Index, Consent: cs.state.Consent, Candidates: cands})
	w.evaluated++
	w.agg.compare(seq, ev, r, res.Decisions)
}

// impactAgg adds up the changes.
type impactAgg struct {
	mu       sync.Mutex
	parts    map[string]*partAgg
	changedE int
	changedD int
	samples  []api.ImpactSample
	max      int
}

type partAgg struct {
	api.ParticipantImpact
	gained, lost map[string]bool
}

func newImpactAgg(samples int) *impactAgg {
	return &impactAgg{parts: map[string]*partAgg{}, max: samples}
}

func (g *impactAgg) part(id string) *partAgg {
	p := g.parts[id]
	if p == nil {
		p = &partAgg{ParticipantImpact: api.ParticipantImpact{Participant: id, FieldsDisclosed: map[string]int{}, FieldsWithheld: map[string]int{}},
			gained: map[string]bool{}, lost: map[string]bool{}}
		g.parts[id] = p
	}
	return p
}

func (g *impactAgg) compare(seq uint64, ev *event.Event, r *impactRec, draft []api.Decision) {
	old := map[string]api.Decision{}
	for _, d := range r.decisions {
		old[d.Participant] = d
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	changed := false
	for _, d := range draft {
		o, had := old[d.Participant]
		if !had {
			o = api.Decision{Participant: d.Participant, Basis: "not-a-candidate", Remove: []string{}}
		}
		same := o.Allow == d.Allow && (!d.Allow || o.Basis == d.Basis && sameFields(ev, o.Remove, d.Remove))
		if same {
			continue
		}
		changed = true
		g.changedD++
		p := g.part(d.Participant)
		switch {
		case d.Allow && !o.Allow:
			p.EventsGained++
			p.gained[r.child] = true
			for _, f := range delivered(ev, d.Remove) {
				p.FieldsDisclosed[f]++
			}
		case !d.Allow && o.Allow:
			p.EventsLost++
			p.lost[r.child] = true
			for _, f := range delivered(ev, o.Remove) {
				p.FieldsWithheld[f]++
			}
		default:
			if o.Basis != d.Basis {
				p.BasisChanged++
			}
			was, now := present(ev, o.Remove), present(ev, d.Remove)
			for f := range was {
				if !now[f] {
					p.FieldsDisclosed[f]++
				}
			}
			for f := range now {
				if !was[f] {
					p.FieldsWithheld[f]++
				}
			}
		}
		g.samples = append(g.samples, api.ImpactSample{Seq: seq, EventID: ev.ID, Type: ev.Type, EventTime: ev.Time.UTC().Format(time.RFC3339),
			ChildKey: r.child, Child: maskUIN(ev.Subject), Participant: d.Participant, Current: o, CurrentRev: r.revision, Draft: d})
		if len(g.samples) > 4*g.max {
			g.trimSamples()
		}
	}
	if changed {
		g.changedE++
	}
}

func (g *impactAgg) trimSamples() {
	sort.Slice(g.samples, func(i, j int) bool {
		a, b := g.samples[i], g.samples[j]
		return a.Seq < b.Seq || a.Seq == b.Seq && (a.EventID < b.EventID || a.EventID == b.EventID && a.Participant < b.Participant)
	})
	if len(g.samples) > g.max {
		g.samples = g.samples[:g.max]
	}
}

func (g *impactAgg) report(rep *api.ImpactReport) {
	g.trimSamples()
	rep.Samples = append(rep.Samples, g.samples...)
	rep.ChangedEvents, rep.ChangedDecisions = g.changedE, g.changedD
	for _, p := range g.parts {
		p.ChildrenGained, p.ChildrenLost = len(p.gained), len(p.lost)
		rep.Participants = append(rep.Participants, p.ParticipantImpact)
	}
	sort.Slice(rep.Participants, func(i, j int) bool { return rep.Participants[i].Participant < rep.Participants[j].Participant })
}

// present lists the removal paths that exist in the event.
func present(ev *event.Event, paths []string) map[string]bool {
	out := map[string]bool{}
	for _, p := range paths {
		if hasPath(ev.Data, strings.Split(strings.TrimPrefix(p, "data."), ".")) {
			out[p] = true
		}
	}
	return out
}

func sameFields(ev *event.Event, a, b []string) bool {
	x, y := present(ev, a), present(ev, b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}

// delivered lists the top-level data fields of the copy left by remove.
func delivered(ev *event.Event, remove []string) []string {
	gone := present(ev, remove)
	var out []string
	for k := range ev.Data {
		if !gone["data."+k] {
			out = append(out, "data."+k)
		}
	}
	sort.Strings(out)
	return out
}

func hasPath(m map[string]any, parts []string) bool {
	v, ok := m[parts[0]]
	if !ok {
		return false
	}
	if len(parts) == 1 {
		return true
	}
	child, ok := v.(map[string]any)
	return ok && hasPath(child, parts[1:])
}

func maskUIN(s string) string {
	if len(s) != 10 {
		return "?"
	}
	return "******" + s[6:]
}

// ---- which event types a draft's changes can reach ----

// scope finds the rules a draft changes and, per event type, whether the
// decision can reach one of them. It errs towards "can reach": a type it
// cannot rule out is evaluated.
type scope struct {
	inputMu      sync.Mutex
	inputs       map[string]inputPaths
	changed      []ast.Ref // rule paths whose definitions differ, and data paths whose values do
	all          bool      // the analysis could not tell: every type is affected
	cur, draft   *ruleGraph
	memo         map[string]bool
	affectedSeen map[string]bool
}

func newScope(curModules, draftModules map[string]string) *scope {
	s := &scope{memo: map[string]bool{}, affectedSeen: map[string]bool{}, inputs: map[string]inputPaths{}}
	cs, err1 := ruleSignatures(curModules)
	ds, err2 := ruleSignatures(draftModules)
	s.cur, s.draft = newRuleGraph(curModules), newRuleGraph(draftModules)
	if err1 != nil || err2 != nil || s.cur == nil || s.draft == nil {
		s.all = true
		return s
	}
	for p, sig := range cs {
		if ds[p] != sig {
			s.changed = append(s.changed, ast.MustParseRef(p))
		}
	}
	for p := range ds {
		if _, ok := cs[p]; !ok {
			s.changed = append(s.changed, ast.MustParseRef(p))
		}
	}
	// The data the rules read (the sharing matrix, its legend): every path
	// whose value differs is changed, like a rule.
	s.changed = append(s.changed, dataChanges(ast.DefaultRootRef, s.cur.data, s.draft.data)...)
	sort.Slice(s.changed, func(i, j int) bool { return s.changed[i].String() < s.changed[j].String() })
	return s
}

// cacheKey is the part of a policy input the draft's rules reachable for the
// event's type read (inputPaths): equal keys, equal decisions, so each
// distinct one is evaluated once.
func (s *scope) cacheKey(e *event.Event, in map[string]any) map[string]any {
	paths, all := s.inputPaths(e.Name)
	if all {
		return in
	}
	k := project(in, paths)
	k["_name"] = e.Name
	return k
}

// inputPaths is ruleGraph.inputPaths of the draft, remembered per name.
func (s *scope) inputPaths(name string) ([][]string, bool) {
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if p, ok := s.inputs[name]; ok {
		return p.paths, p.all
	}
	var p inputPaths
	if s.draft == nil {
		p.all = true
	} else {
		p.paths, p.all = s.draft.inputPaths(name)
	}
	s.inputs[name] = p
	return p.paths, p.all
}

type inputPaths struct {
	paths [][]string
	all   bool
}

// project keeps of the policy input only what is at the given key paths
// (a value that is not an object where a path goes on is kept whole, so a
// null child stays null).
func project(in map[string]any, paths [][]string) map[string]any {
	out := map[string]any{}
	for _, p := range paths {
		src, dst := in, out
		for i, k := range p {
			v, ok := src[k]
			if !ok {
				break
			}
			m, isMap := v.(map[string]any)
			if i == len(p)-1 || !isMap {
				dst[k] = v
				break
			}
			next, _ := dst[k].(map[string]any)
			if next == nil {
				next = map[string]any{}
				dst[k] = next
			}
			src, dst = m, next
		}
	}
	return out
}

func (s *scope) changedList() []string {
	out := []string{}
	for _, r := range s.changed {
		out = append(out, r.String())
	}
	return out
}

// affectsBytes is affects for a name not yet made a string.
func (s *scope) affectsBytes(name []byte) bool {
	if v, ok := s.memo[string(name)]; ok {
		return v
	}
	return s.affects(string(name))
}

// affects reports whether events of the named type may be decided
// differently by the draft.
func (s *scope) affects(name string) bool {
	if v, ok := s.memo[name]; ok {
		return v
	}
	v := s.all || len(s.changed) > 0 && (s.cur.reaches(name, s.changed) || s.draft.reaches(name, s.changed))
	s.memo[name] = v
	if v {
		s.affectedSeen[name] = true
	}
	return v
}

// ruleSignatures maps each rule path to the text of every rule at that path
// (with its module's imports, which give its references their meaning).
func ruleSignatures(modules map[string]string) (map[string]string, error) {
	defs := map[string][]string{}
	for name, src := range modules {
		if !policies.IsModule(name) {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, err
		}
		var imports []string
		for _, imp := range m.Imports {
			imports = append(imports, imp.String())
		}
		sort.Strings(imports)
		for _, r := range m.Rules {
			p := rulePath(m.Package.Path, r).String()
			defs[p] = append(defs[p], strings.Join(imports, ";")+"\n"+r.String())
		}
	}
	out := map[string]string{}
	for p, d := range defs {
		sort.Strings(d)
		out[p] = strings.Join(d, "\n--\n")
	}
	return out, nil
}

func rulePath(pkg ast.Ref, r *ast.Rule) ast.Ref {
	return pkg.Extend(r.Head.Ref().GroundPrefix())
}

// ruleGraph is a compiled policy's rules by path, for reachability.
type ruleGraph struct {
	rules  map[string][]*ast.Rule
	paths  []ast.Ref
	consts map[string]ast.Value // complete rules with one ground value, and the data documents
	data   ast.Object           // the data documents the rules read (data.matrix, data.legend)
}

var inputEventName = ast.MustParseRef("input.event.name")

func newRuleGraph(files map[string]string) *ruleGraph {
	modules := map[string]string{}
	for name, src := range files {
		if policies.IsModule(name) {
			modules[name] = src
		}
	}
	c, err := ast.CompileModulesWithOpt(modules, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
	if err != nil {
		return nil
	}
	data, err := policies.LoadData(files)
	if err != nil {
		return nil
	}
	doc, err := ast.InterfaceToValue(data.Doc)
	if err != nil {
		return nil
	}
	g := &ruleGraph{rules: map[string][]*ast.Rule{}, consts: map[string]ast.Value{}, data: doc.(ast.Object)}
	// A reference into the data folds to its value, as a constant rule's
	// does: data.matrix.events[data.matrix.events["index.gp.recorded"].same_as]
	// is the row of index.child.registered.
	g.data.Foreach(func(k, v *ast.Term) {
		g.consts[ast.DefaultRootRef.Append(k).String()] = v.Value
	})
	for _, m := range c.Modules {
		for _, r := range m.Rules {
			p := rulePath(m.Package.Path, r)
			if _, ok := g.rules[p.String()]; !ok {
				g.paths = append(g.paths, p)
			}
			g.rules[p.String()] = append(g.rules[p.String()], r)
		}
	}
	for p, rs := range g.rules {
		if len(rs) != 1 {
			continue
		}
		r := rs[0]
		if r.Else == nil && r.Head.Key == nil && len(r.Head.Args) == 0 && r.Head.Value != nil && r.Head.Value.IsGround() &&
			len(r.Body) == 1 && r.Body[0].Equal(ast.NewExpr(ast.BooleanTerm(true))) && len(r.Head.Ref()) == 1 {
			g.consts[p] = r.Head.Value.Value
		}
	}
	return g
}

// reaches reports whether the decision for an event named name can touch
// one of the given rule paths.
func (g *ruleGraph) reaches(name string, targets []ast.Ref) bool {
	w := &reachWalk{g: g, name: name, seen: map[string]bool{}}
	w.path(ast.MustParseRef(policy.DecisionQuery))
	if w.gaveUp {
		return true
	}
	for _, t := range targets {
		for _, p := range w.touched {
			if t.HasPrefix(p) || p.HasPrefix(t) {
				return true
			}
		}
	}
	return false
}

type reachWalk struct {
	g       *ruleGraph
	name    string
	seen    map[string]bool
	touched []ast.Ref
	gaveUp  bool
	// The input the reached rules may read: ground prefixes of their
	// references to input, or all of it.
	inputs     []ast.Ref
	wholeInput bool
}

// inputPaths lists what of the input a decision for an event named name can
// read, as key paths; all is true when it may read anything.
func (g *ruleGraph) inputPaths(name string) (paths [][]string, all bool) {
	w := &reachWalk{g: g, name: name, seen: map[string]bool{}}
	w.path(ast.MustParseRef(policy.DecisionQuery))
	if w.gaveUp || w.wholeInput {
		return nil, true
	}
	for _, r := range w.inputs {
		var keys []string
		for _, t := range r[1:] {
			k, ok := t.Value.(ast.String)
			if !ok {
				break
			}
			keys = append(keys, string(k))
		}
		if len(keys) == 0 {
			return nil, true
		}
		paths = append(paths, keys)
	}
	return paths, false
}

// ref follows a data reference: it touches its ground prefix, and every
// rule at, under or above it is evaluated. A reference to input is noted.
// Its keys are first made ground where they can be (the event's name,
// constants, values of the data), so that data.matrix.events[input.event.name]
// touches only the row of the event type walked.
func (w *reachWalk) ref(r ast.Ref, binds map[ast.Var]*ast.Term) {
	r, undefined := w.groundKeys(r, binds)
	if undefined {
		return // a key the data does not hold: the reference reads nothing
	}
	if r[0].Equal(ast.InputRootDocument) {
		if p := r.GroundPrefix(); len(p) > 1 {
			w.inputs = append(w.inputs, p)
		} else {
			w.wholeInput = true
		}
		return
	}
	if !r[0].Equal(ast.DefaultRootDocument) {
		return
	}
	p := r.GroundPrefix()
	w.touched = append(w.touched, p)
	for _, rp := range w.g.paths {
		if rp.HasPrefix(p) || p.HasPrefix(rp) {
			w.path(rp)
		}
	}
}

// groundKeys substitutes, in a reference to data, each key that is itself
// a reference by its value when the walk knows it; undefined when such a
// key is known to be undefined (a row without same_as).
func (w *reachWalk) groundKeys(r ast.Ref, binds map[ast.Var]*ast.Term) (ast.Ref, bool) {
	if !r[0].Equal(ast.DefaultRootDocument) {
		return r, false
	}
	var out ast.Ref
	for i := 1; i < len(r); i++ {
		switch r[i].Value.(type) {
		case ast.Ref, ast.Var:
		default:
			continue
		}
		x, undefined := w.subst(r[i], binds)
		if undefined {
			return r, true
		}
		if !x.IsGround() {
			break
		}
		if out == nil {
			out = r.Copy()
		}
		out[i] = x
	}
	if out == nil {
		return r, false
	}
	return out, false
}

// dataChanges lists the paths under at where the data documents a and b
// differ, as deep as both are objects.
func dataChanges(at ast.Ref, a, b ast.Value) []ast.Ref {
	ao, aok := a.(ast.Object)
	bo, bok := b.(ast.Object)
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil || b == nil || !aok || !bok:
		if a != nil && b != nil && a.Compare(b) == 0 {
			return nil
		}
		return []ast.Ref{at.Copy()}
	}
	var out []ast.Ref
	keys := map[string]*ast.Term{}
	ao.Foreach(func(k, _ *ast.Term) { keys[k.String()] = k })
	bo.Foreach(func(k, _ *ast.Term) { keys[k.String()] = k })
	for _, k := range keys {
		var av, bv ast.Value
		if t := ao.Get(k); t != nil {
			av = t.Value
		}
		if t := bo.Get(k); t != nil {
			bv = t.Value
		}
		out = append(out, dataChanges(at.Append(k), av, bv)...)
	}
	return out
}

func (w *reachWalk) path(p ast.Ref) {
	key := p.String()
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	w.touched = append(w.touched, p)
	for _, r := range w.g.rules[key] {
		for br := r; br != nil; br = br.Else {
			if ok, binds := w.body(br.Body); ok {
				w.terms(br.Head, binds)
			}
		}
	}
}

// body walks a rule body in order and reports whether it may succeed: an
// expression that is false for this event type ends it.
// It returns the variables it bound to values on the way.
func (w *reachWalk) body(body ast.Body) (bool, map[ast.Var]*ast.Term) {
	binds := map[ast.Var]*ast.Term{}
	for _, e := range body {
		if len(e.With) > 0 {
			w.gaveUp = true // with changes input or data: no longer sure what it reaches
			return true, binds
		}
		w.terms(e, binds)
		if w.definitelyFalse(e, binds) {
			return false, binds
		}
	}
	return true, binds
}

func (w *reachWalk) terms(x any, binds map[ast.Var]*ast.Term) {
	ast.WalkRefs(x, func(r ast.Ref) bool {
		w.ref(r, binds)
		return false
	})
}

// definitelyFalse reports whether e fails for every event of this type:
// with input.event.name and constant rules put in, e is ground and false,
// or refers to something undefined.
func (w *reachWalk) definitelyFalse(e *ast.Expr, binds map[ast.Var]*ast.Term) bool {
	if e.Negated {
		return false
	}
	var terms []*ast.Term
	switch t := e.Terms.(type) {
	case *ast.Term:
		terms = []*ast.Term{t}
	case []*ast.Term:
		terms = t
	default:
		return false
	}
	sub := make([]*ast.Term, len(terms))
	for i, t := range terms {
		if i == 0 && len(terms) > 1 {
			sub[0] = t // the operator
			continue
		}
		x, undefined := w.subst(t, binds)
		if undefined {
			return true
		}
		sub[i] = x
	}
	if len(sub) == 3 && (e.IsEquality() || e.IsAssignment()) {
		for _, k := range [][2]int{{1, 2}, {2, 1}} {
			if v, ok := sub[k[0]].Value.(ast.Var); ok && sub[k[1]].IsGround() && isValue(sub[k[1]]) {
				binds[v] = sub[k[1]]
				return false
			}
		}
	}
	for _, t := range sub[min(1, len(sub)-1):] {
		if !t.IsGround() || !isValue(t) {
			return false
		}
	}
	if len(sub) == 3 && sub[0].Equal(memberOp) {
		// x in xs, which a query may not call by its internal name.
		return !member(sub[1], sub[2].Value)
	}
	var query ast.Body
	if len(sub) == 1 {
		query = ast.NewBody(ast.NewExpr(sub[0]))
	} else {
		query = ast.NewBody(ast.NewExpr(sub))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rs, err := rego.New(rego.ParsedQuery(query), rego.SetRegoVersion(ast.RegoV1)).Eval(ctx)
	return err == nil && len(rs) == 0
}

// memberOp is what the compiler makes of `x in xs`.
var memberOp = ast.RefTerm(ast.VarTerm("internal"), ast.StringTerm("member_2"))

func member(x *ast.Term, xs ast.Value) bool {
	switch c := xs.(type) {
	case ast.Set:
		return c.Contains(x)
	case *ast.Array:
		found := false
		c.Foreach(func(t *ast.Term) { found = found || t.Equal(x) })
		return found
	case ast.Object:
		found := false
		c.Foreach(func(_, v *ast.Term) { found = found || v.Equal(x) })
		return found
	}
	return true // not a collection: say nothing
}

// isValue reports whether t holds no reference or call left to evaluate.
func isValue(t *ast.Term) bool {
	ok := true
	ast.WalkTerms(t, func(x *ast.Term) bool {
		switch x.Value.(type) {
		case ast.Ref, ast.Call, *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			ok = false
		}
		return !ok
	})
	return ok
}

// subst puts in input.event.name, bound variables and constant rules;
// undefined is true when a constant rule has nothing at the path.
func (w *reachWalk) subst(t *ast.Term, binds map[ast.Var]*ast.Term) (*ast.Term, bool) {
	switch v := t.Value.(type) {
	case ast.Var:
		if b, ok := binds[v]; ok {
			return b, false
		}
	case ast.Ref:
		nr := make(ast.Ref, len(v))
		nr[0] = v[0]
		for i := 1; i < len(v); i++ {
			x, undefined := w.subst(v[i], binds)
			if undefined {
				return nil, true
			}
			nr[i] = x
		}
		if nr.Equal(inputEventName) {
			return ast.StringTerm(w.name), false
		}
		if !nr[0].Equal(ast.DefaultRootDocument) {
			return ast.NewTerm(nr), false
		}
		for k := len(nr); k >= 2; k-- {
			c, ok := w.g.consts[nr[:k].String()]
			if !ok {
				continue
			}
			rest := nr[k:]
			if !rest.IsGround() {
				break
			}
			if len(rest) == 0 {
				return ast.NewTerm(c), false
			}
			val, err := c.Find(rest)
			if err != nil {
				return nil, true
			}
			return ast.NewTerm(val), false
		}
		return ast.NewTerm(nr), false
	}
	return t, false
}

// LockImpact claims the one impact analysis that may run at a time; ok is
// false while another runs.
func (b *Ops) LockImpact() (unlock func(), ok bool) {
	if !b.impactMu.TryLock() {
		return nil, false
	}
	return b.impactMu.Unlock, true
}
