package bench

// BenchmarkHistory measures what looks back over years of history (issue
// 16): a policy draft's impact, a participant's replay, a child's subject
// access and erasure, and what the broker holds per child. It builds a
// synthetic national history through the real pipeline, in two halves of
// children, and measures at each half:
//
//	ECM_HISTORY_EVENTS=1000000 go test -run '^$' -bench History -benchtime 1x -timeout 90m ./test/bench/
//
// ECM_HISTORY_EVENTS defaults to a tiny history so that CI runs it in
// seconds. It prints one table: each figure, its target, the ratio, met or
// missed. Figures that are ratios are taken against a baseline measured in
// the same run (the live pipeline's events/s, the first half's times).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const historyAreas = 10

func historyEvents() int {
	if n, err := strconv.Atoi(os.Getenv("ECM_HISTORY_EVENTS")); err == nil && n >= 400 {
		return n
	}
	return 2000
}

// historyChild is the k-th child: its UIN, area, and age.
func historyChild(k int) string {
	for i := 0; ; i++ {
		if s, ok := uin.WithCheckDigit(fmt.Sprintf("5%08d", k*10+i)); ok {
			return s
		}
	}
}

func areaName(a int) string {
	if a == 0 {
		return "leeds"
	}
	return fmt.Sprintf("area-%03d", a)
}

type historyStep struct {
	agency, name string
	data         func(k int) map[string]any
}

// historyMix is one child's twenty events over the year: index updates
// (registration, GP, school, practitioners, carer, flags, a move, one child
// in ten to another area), concerns, consent granted and part withdrawn,
// case events of every kind.
func historyMix(now time.Time) []historyStep {
	contact := map[string]any{"phone": "0113 496 0001"}
	fixed := func(d map[string]any) func(int) map[string]any { return func(int) map[string]any { return d } }
	caf := fixed(map[string]any{"needs": []any{map[string]any{"outcome": "be_healthy", "summary": "Asthma not well managed; misses school."}},
		"lead_professional": map[string]any{"name": "Sam Tutor", "contact": contact}})
	ref := func(k int) map[string]any {
		return map[string]any{"category": []string{"neglect", "emotional", "physical"}[k%3], "summary": strings.Repeat("Seen at school without a coat. ", 8), "significant_harm": k%5 == 0}
	}
	return []historyStep{
		{"pct", "index.child.registered", func(k int) map[string]any {
			return map[string]any{"name": map[string]any{"given": "Robin", "family": fmt.Sprint("F", k)},
				"dob": now.AddDate(-(k % 18), -(k % 12), -(k % 28)).Format("2006-01-02"), "gender": "other",
				"address": map[string]any{"lines": []any{fmt.Sprint(k%200, " Park Row")}, "postcode": "LS1 5HD"}, "area": areaName(k % historyAreas)}
		}},
		{"pct", "index.gp.recorded", fixed(map[string]any{"practice": map[string]any{"name": "Park Surgery", "code": "B86001", "contact": contact}})},
		{"lea", "index.education.recorded", fixed(map[string]any{"setting": map[string]any{"name": "Park School", "contact": contact}, "from": "2020-09-01"})},
		{"pct", "index.practitioner.involved", fixed(map[string]any{"practitioner": map[string]any{"name": "Hana Visitor", "role": "health visitor", "contact": contact}, "service": "health visiting"})},
		{"lea", "caf.completed", caf},
		{"la-social-care", "consent.granted", func(k int) map[string]any {
			return map[string]any{"given_by": []string{"parent", "child"}[k%2], "purposes": []any{"caf"}, "agencies": []any{"pct", "lea", "connexions"}}
		}},
		{"police", "index.concern.flagged", fixed(map[string]any{"practitioner": map[string]any{"name": "PC Dale", "contact": contact}})},
		{"lea", "safeguarding.referral", ref},
		{"pct", "index.carer.recorded", fixed(map[string]any{"name": "Pat Parent", "relationship": "mother", "contact": contact})},
		{"lea", "caf.completed", caf},
		{"police", "police.incident", func(k int) map[string]any {
			return map[string]any{"kind": []string{"domestic_abuse", "missing_child", "other"}[k%3], "occurred_at": "2026-01-20T22:10:00Z", "child_present": k%2 == 0, "summary": "Officers attended."}
		}},
		{"lea", "education.exclusion", fixed(map[string]any{"kind": "fixed", "days": 2, "reason": "Fighting."})},
		{"pct", "index.address.changed", func(k int) map[string]any {
			area := k % historyAreas
			if k%10 == 0 {
				area = (area + 1) % historyAreas // a move across areas: the broker transfers the record
			}
			return map[string]any{"address": map[string]any{"lines": []any{"2 Park Row"}, "postcode": "LS1 5HE"}, "area": areaName(area)}
		}},
		{"yot", "youthjustice.order", fixed(map[string]any{"order": "referral order", "start": "2026-02-02", "end": "2026-11-02", "worker": map[string]any{"name": "Liam Doyle", "contact": contact}})},
		{"connexions", "connexions.neet", fixed(map[string]any{"status": "neet", "since": "2026-01-12"})},
		{"pct", "safeguarding.referral", ref},
		{"la-social-care", "index.flags.set", func(k int) map[string]any {
			return map[string]any{"shielded": false, "care_leaver": k%7 == 0, "learning_difficulty": k%4 == 0}
		}},
		{"pct", "index.practitioner.ended", fixed(map[string]any{"practitioner": map[string]any{"name": "Hana Visitor"}})},
		{"la-social-care", "consent.withdrawn", fixed(map[string]any{"purposes": []any{"caf"}, "agencies": []any{"lea"}})},
		{"lea", "caf.completed", caf},
	}
}

// publishHistory publishes the events of children [from, to): step by step,
// the children interleaved as real traffic is, times spread over the year
// before now. It waits until the broker has decided every one and returns
// the pipeline's events/s over that time and its CPU per event.
func publishHistory(b *testing.B, br *broker.Broker, js jetstream.JetStream, now time.Time, from, to int) (float64, time.Duration) {
	mix := historyMix(now)
	n := (to - from) * len(mix)
	year := 365 * 24 * time.Hour
	cpu0 := cpuTime()
	start := time.Now()
	i := 0
	for step, s := range mix {
		for k := from; k < to; k++ {
			child := historyChild(k)
			pub := areaName(k%historyAreas) + "/" + s.agency
			id := uuid.NewString()
			at := now.Add(-year + time.Duration(float64(year)*(float64(step)+float64(k-from)/float64(to-from))/float64(len(mix))))
			ev := map[string]any{"specversion": "1.0", "id": id, "source": "/" + pub, "type": "uk.gov.ecm." + s.name + ".v1",
				"subject": child, "time": at.UTC().Format(time.RFC3339), "datacontenttype": "application/json", "data": s.data(k)}
			body, _ := json.Marshal(ev)
			m := nats.NewMsg(wire.IngestSubject(pub, child))
			m.Header.Set("content-type", "application/cloudevents+json")
			m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID("/"+pub, id))
			m.Data = body
			for {
				if _, err := js.PublishMsgAsync(m); err == nil {
					break
				} else if err != jetstream.ErrTooManyStalledMsgs {
					b.Fatal(err)
				}
				<-js.PublishAsyncComplete()
			}
			i++
		}
	}
	<-js.PublishAsyncComplete()
	waitDecided(b, br)
	el := time.Since(start)
	return float64(n) / el.Seconds(), (cpuTime() - cpu0) / time.Duration(n)
}

func waitDecided(b *testing.B, br *broker.Broker) {
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Minute)
	for {
		n, err := store.IngestPending(ctx, br.JetStream())
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the broker did not decide the history: %d pending, %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuTime is this process's user and system CPU so far (the broker and its
// embedded server run in it).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the process's resident memory (VmRSS), after a collection.
func rss() uint64 {
	runtime.GC()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// stateOnDisk is the children bucket's keys and stored bytes.
func stateOnDisk(b *testing.B, br *broker.Broker) (keys, bytes uint64) {
	s, err := br.JetStream().Stream(context.Background(), "KV_"+wire.BucketChildren)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.NumSubjects, info.State.Bytes
}

// drafts are the two of the issue: one rule (the police no longer tell
// education and health of domestic abuse) and a change every event type
// reaches (the Act's scope ends at 10).
func drafts(b *testing.B) map[string]*policy.Policy {
	edit := func(mods map[string]string, module, old, new string) {
		if !strings.Contains(mods[module], old) {
			b.Fatalf("%s no longer holds %q: update the benchmark's draft", module, old)
		}
		mods[module] = strings.Replace(mods[module], old, new, 1)
	}
	read := func() map[string]string {
		mods, err := policy.ReadModules(policies.FS, false)
		if err != nil {
			b.Fatal(err)
		}
		return mods
	}
	one := read()
	edit(one, "matrix.yaml", "          when: child-under-5-present-at-domestic-abuse\n", "          when: child-present-at-domestic-abuse\n")
	worst := read()
	edit(worst, "scope.rego", "in_scope if age < 20\n", "in_scope if age < 10\n")
	edit(worst, "scope.rego", "in_scope if age < _scope_ends", "in_scope if age < 10")
	out := map[string]*policy.Policy{}
	for name, mods := range map[string]map[string]string{"one-rule": one, "worst-case": worst} {
		p, err := policy.CompileModules(context.Background(), mods)
		if err != nil {
			b.Fatalf("draft %s: %v", name, err)
		}
		out[name] = p
	}
	return out
}

type figure struct {
	name, target, unit string
	value, limit       float64 // met when value <= limit (or >= when atLeast)
	atLeast            bool
	note               string
}

func (f figure) status() (ratio float64, verdict string) {
	if f.limit == 0 {
		return 0, "measured"
	}
	ratio = f.value / f.limit
	if f.atLeast && f.value >= f.limit || !f.atLeast && f.value <= f.limit {
		return ratio, "met"
	}
	return ratio, "MISSED"
}

func impactRun(b *testing.B, br *broker.Broker, d *policy.Policy) *api.ImpactReport {
	rep, err := br.Ops().Impact(context.Background(), d, api.ImpactRequest{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("impact %s: %d events, %d generated, %d evaluated, %d policy evaluations, %d changed decisions: %.2fs (audit %.2fs, evaluation %.2fs)",
		d.Revision, rep.Events, rep.Generated, rep.Evaluated, rep.PolicyEvaluations, rep.ChangedDecisions, rep.Seconds, rep.AuditSeconds, rep.EvaluateSeconds)
	return rep
}

func percentile(ds []time.Duration, p float64) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(math.Ceil(p*float64(len(ds))))-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkHistory: see the top of this file.
func BenchmarkHistory(b *testing.B) {
	n := historyEvents()
	mix := len(historyMix(time.Now()))
	kids := n / mix
	half := kids / 2
	for i := 0; i < b.N; i++ {
		env := testenv.StartWith(b, broker.Options{Config: benchConfig(historyAreas)})
		br := env.Broker
		nc, err := nats.Connect(br.NATSURL())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
		ds := drafts(b)
		now := time.Now()
		rss0 := rss()

		// First half of the children.
		live1, cpu1 := publishHistory(b, br, js, now, 0, half)
		keys1, bytes1 := stateOnDisk(b, br)
		rss1 := rss()
		t1 := map[string]float64{}
		for name, d := range ds {
			t1[name] = impactRun(b, br, d).Seconds
		}
		// Second half: the whole history.
		live2, cpu2 := publishHistory(b, br, js, now, half, kids)
		keys2, bytes2 := stateOnDisk(b, br)
		rss2 := rss()
		t2 := map[string]float64{}
		reps := map[string]*api.ImpactReport{}
		for name, d := range ds {
			reps[name] = impactRun(b, br, d)
			t2[name] = reps[name].Seconds
		}
		live := (live1*float64(half) + live2*float64(kids-half)) / float64(kids)
		cpuPer := (cpu1*time.Duration(half) + cpu2*time.Duration(kids-half)) / time.Duration(kids)

		// Replay of one participant's history: children's social care of
		// the first area receives most of its children's events.
		ctx := context.Background()
		start := time.Now()
		rr, err := br.Ops().Replay(ctx, "bench", api.ReplaySelection{Participant: "leeds/la-social-care"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		replaySec := time.Since(start).Seconds()
		replayRate := float64(rr.Selected) / replaySec
		b.Logf("replay leeds/la-social-care: %d selected, %d delivered, %d already delivered, %d denied in %.2fs",
			rr.Selected, rr.Delivered, rr.AlreadyDelivered, rr.Denied, replaySec)

		// Subject access: children spread over the history.
		var sar []time.Duration
		for j := 0; j < min(200, kids); j++ {
			child := historyChild((j * 7919) % kids)
			start := time.Now()
			r, err := br.Ops().SubjectAccess(ctx, "bench", child)
			if err != nil {
				b.Fatal(err)
			}
			sar = append(sar, time.Since(start))
			if len(r.Events) < mix {
				b.Fatalf("subject access holds %d events of the child's %d", len(r.Events), mix)
			}
		}
		// Erasure of a few children.
		var erase []time.Duration
		for j := 0; j < min(10, kids); j++ {
			child := historyChild((j*104729 + 1) % kids)
			start := time.Now()
			if _, err := br.Ops().Erase(ctx, "bench", child, "retention period ended, ticket BENCH-16"); err != nil {
				b.Fatal(err)
			}
			erase = append(erase, time.Since(start))
		}

		// Memory and disk per child, and 12 million children from the two
		// points: resident = a + slope x children.
		slope := float64(int64(rss2)-int64(rss1)) / float64(max(keys2-keys1, 1))
		rss12M := float64(rss2) + slope*(12e6-float64(keys2))
		perChild := float64(bytes2) / float64(max(keys2, 1))
		growth := func(name string) float64 { return t2[name] / math.Max(t1[name], 1e-3) }
		// The 10M ≤ 3x 1M target as an exponent: time ∝ events^0.477, so
		// doubling the events may cost 2^0.477 = 1.39x.
		allowed := math.Pow(float64(n)/float64(n/2), math.Log(3)/math.Log(10))
		// A history smaller than the targets' 1M events is extrapolated to
		// it with the growth this run measured (time ∝ events^e, e from the
		// two halves, at least 1: reading the streams is linear at best).
		at1M := func(name string) float64 {
			e := math.Max(1, math.Log(growth(name))/math.Log(2))
			return t2[name] * math.Pow(1e6/float64(n), e)
		}
		scaled := ""
		if n != 1_000_000 {
			scaled = ", extrapolated (time ∝ events^e, e from the two halves, at least 1)"
		}

		figs := []figure{
			{name: "live pipeline, realistic mix", unit: "events/s", value: live, note: fmt.Sprintf("CPU %.0f µs/event (both halves)", float64(cpuPer.Nanoseconds())/1000)},
			{name: "impact, worst-case draft, at 1M events", target: "≤ 10 s", unit: "s", value: at1M("worst-case"), limit: 10,
				note: fmt.Sprintf("%.2fs measured at %d events%s; %d policy evaluations for %d decisions", t2["worst-case"], n, scaled, reps["worst-case"].PolicyEvaluations, reps["worst-case"].Evaluated)},
			{name: "impact, one-rule draft, at 1M events", target: "≤ 5 s", unit: "s", value: at1M("one-rule"), limit: 5,
				note: fmt.Sprintf("%.2fs measured at %d events%s; %d evaluated", t2["one-rule"], n, scaled, reps["one-rule"].Evaluated)},
			{name: "impact growth, worst-case, 2x events", target: fmt.Sprintf("≤ %.2fx (10M ≤ 3x 1M)", allowed), unit: "x", value: growth("worst-case"), limit: allowed,
				note: fmt.Sprintf("%.2fs at %d events, %.2fs at %d", t1["worst-case"], half*mix, t2["worst-case"], n)},
			{name: "impact growth, one-rule, 2x events", target: fmt.Sprintf("≤ %.2fx (10M ≤ 3x 1M)", allowed), unit: "x", value: growth("one-rule"), limit: allowed,
				note: fmt.Sprintf("%.2fs at %d events, %.2fs at %d", t1["one-rule"], half*mix, t2["one-rule"], n)},
			{name: "replay of one participant / live", target: "≥ 0.5x", unit: "x", value: replayRate / live, limit: 0.5, atLeast: true,
				note: fmt.Sprintf("%.0f events/s over %d selected", replayRate, rr.Selected)},
			{name: fmt.Sprintf("subject access p99, %d events", n), target: "≤ 100 ms", unit: "ms", value: ms(percentile(sar, 0.99)), limit: 100,
				note: fmt.Sprintf("p50 %.1f ms over %d children", ms(percentile(sar, 0.5)), len(sar))},
			{name: "erasure of one child, worst", target: "≤ 2 s", unit: "s", value: percentile(erase, 1).Seconds(), limit: 2,
				note: fmt.Sprintf("p50 %.2fs over %d children", percentile(erase, 0.5).Seconds(), len(erase))},
			{name: fmt.Sprintf("resident memory, %d children in state", keys2), unit: "MiB", value: float64(rss2) / (1 << 20),
				note: fmt.Sprintf("%.0f MiB before the history, %.0f MiB at %d children", float64(rss0)/(1<<20), float64(rss1)/(1<<20), keys1)},
			{name: "resident memory per child (slope)", unit: "bytes", value: slope, note: fmt.Sprintf("(%d - %d) / (%d - %d children)", rss2, rss1, keys2, keys1)},
			{name: "resident memory, 12M children (extrapolated)", unit: "GiB", value: rss12M / (1 << 30),
				note: fmt.Sprintf("%.0f MiB + %.0f B x (12,000,000 - %d)", float64(rss2)/(1<<20), slope, keys2)},
			{name: "child state on disk per child", unit: "bytes", value: perChild, note: fmt.Sprintf("%d bytes / %d children (%d at half: %d bytes)", bytes2, keys2, keys1, bytes1)},
			{name: "child state on disk, 12M children (extrapolated)", unit: "GiB", value: perChild * 12e6 / (1 << 30), note: "bytes per child x 12,000,000"},
		}
		tw := tabwriter.NewWriter(os.Stdout, 4, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "\nHistory: %d events, %d children, %d areas (GOMAXPROCS %d)\n", n, kids, historyAreas, runtime.GOMAXPROCS(0))
		fmt.Fprintf(tw, "figure\tvalue\ttarget\tratio\tverdict\thow\n")
		for _, f := range figs {
			ratio, verdict := f.status()
			r := "-"
			if f.limit != 0 {
				r = fmt.Sprintf("%.2f", ratio)
			}
			t := f.target
			if t == "" {
				t = "-"
			}
			fmt.Fprintf(tw, "%s\t%.2f %s\t%s\t%s\t%s\t%s\n", f.name, f.value, f.unit, t, r, verdict, f.note)
		}
		tw.Flush()
		b.ReportMetric(t2["worst-case"], "impact-worst-s")
		b.ReportMetric(live, "live-events/s")
	}
}
