package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
)

// leeds/la-social-care receives every referral and never reads; leeds/police
// receives every third and reads as they come. With delivery_limits
// max_per_participant 30, social care fills its 30 and every copy for it
// after that is refused and kept in the dead letters, while the police keep
// receiving theirs as fast as before, no batch is retried, nothing is lost,
// and /metrics shows the limit doing it.
func TestSlowSubscriberDoesNotHoldUpOthers(t *testing.T) {
	const limit = 30
	cfg := demo.Config()
	cfg.DeliveryLimits.MaxPerParticipant = limit
	env := testenv.StartWith(t, broker.Options{Config: cfg})
	reader := readContinuously(t, env, "leeds/police")

	// Phase 1 fills social care to its limit; phase 2 sends it three times
	// as many, every one of them refused.
	events1 := slowSubReferrals(0, limit)
	before := reader.latencies(t, env, events1)
	events2 := slowSubReferrals(limit, 3*limit)
	after := reader.latencies(t, env, events2)
	waitDecidedFirstTime(t, env)
	p50 := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	t.Logf("leeds/police: median publish-to-read latency %v below social care's limit, %v at it (%d and %d copies)",
		p50(before), p50(after), len(before), len(after))
	if p50(after) > 3*p50(before)+250*time.Millisecond {
		t.Errorf("the police's copies slowed down once social care was at its limit: median %v, before %v", p50(after), p50(before))
	}

	// Social care holds exactly its limit (no copy dropped to make room);
	// every other copy for it is in the dead letters, once.
	all := append(events1, events2...)
	// (Reads right after the broker is idle have been seen to come back
	// short under load; give them a moment.)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if len(deliveredIDs(env, "leeds/la-social-care")) >= limit && len(env.DeadLetters()) >= len(all)-limit {
			break
		}
	}
	held := deliveredIDs(env, "leeds/la-social-care")
	if len(held) != limit {
		t.Errorf("social care holds %d copies, want %d", len(held), limit)
	}
	refused := map[string]int{}
	for _, dl := range env.DeadLetters() {
		if dl.Publisher != "ecm-broker" {
			t.Errorf("unexpected dead letter: %+v", dl)
			continue
		}
		var copyOf struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(dl.Body, &copyOf)
		refused[copyOf.ID]++
		if len(dl.Reasons) != 1 || !strings.Contains(dl.Reasons[0], "leeds/la-social-care already holds delivery_limits.max_per_participant (30)") {
			t.Errorf("dead letter reasons %q", dl.Reasons)
		}
	}
	for _, ev := range all {
		id := ev["id"].(string)
		if n := refused[id]; (held[id] && n != 0) || (!held[id] && n != 1) {
			t.Errorf("%s: held %v, in the dead letters %d times; want held or in the dead letters once", id, held[id], n)
		}
	}
	if len(refused) != len(all)-limit {
		t.Errorf("%d refused copies in the dead letters, want %d", len(refused), len(all)-limit)
	}
	if got := len(env.Deliveries("leeds/police")); got != (len(all)+2)/3 {
		t.Errorf("the police hold %d copies, want %d", got, (len(all)+2)/3)
	}

	// What an operator sees.
	for _, m := range []struct {
		series string
		want   float64
	}{
		{"ecm_delivery_limit", limit},
		{`ecm_delivery_held{participant="leeds/la-social-care"}`, limit},
		{`ecm_delivery_held{participant="leeds/police"}`, float64((len(all) + 2) / 3)},
		{`ecm_delivery_refused_total{participant="leeds/la-social-care"}`, float64(len(all) - limit)},
		// Copies stored, not copies allowed: the refused ones were never delivered.
		{`ecm_delivered_total{basis="s11-safeguarding",participant="leeds/la-social-care"}`, limit},
	} {
		if got := metricValue(t, env, m.series); got != m.want {
			t.Errorf("%s = %v, want %v", m.series, got, m.want)
		}
	}
	if got := metricValue(t, env, `ecm_delivery_refused_total{participant="leeds/police"}`); got != 0 {
		t.Errorf("copies for the police refused: %v", got)
	}
}

// waitDecidedFirstTime waits until every ingested event is decided and
// acknowledged, and fails at once if any was redelivered: a batch failed,
// holding up every event of its partition. Without the pipeline's hand-off
// of a refused copy to holdRefusedCopy (broker/limits.go), the first copy
// refused by the limit fails its batch again and again.
func waitDecidedFirstTime(t *testing.T, env *testenv.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		idle := true
		for _, name := range wire.IngestConsumers() {
			c, err := env.Broker.JetStream().Consumer(ctx, wire.StreamIngest, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumRedelivered != 0 {
				t.Fatalf("%s: %d events redelivered: a refused copy failed its batch and held up its partition "+
					"(is the pipeline handing refused copies to holdRefusedCopy?)", name, info.NumRedelivered)
			}
			idle = idle && info.NumPending == 0 && info.NumAckPending == 0
		}
		if n, err := store.IngestPending(ctx, env.Broker.JetStream()); err != nil || n != 0 {
			idle = false // some not yet sourced from their publishers' streams
		}
		if idle {
			return
		}
		if ctx.Err() != nil {
			t.Fatal("events not decided in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slowSubReferrals makes referrals from leeds/lea numbered from..to-1 about
// children of their own; every third alleges significant harm, so the
// police receive it too.
func slowSubReferrals(from, to int) []map[string]any {
	var out []map[string]any
	for i := from; i < to; i++ {
		child := ""
		for k := 0; child == ""; k++ {
			child, _ = uin.WithCheckDigit(fmt.Sprintf("2%08d", i*10+k))
		}
		out = append(out, testenv.Event("leeds/lea", "safeguarding.referral", child,
			map[string]any{"category": "neglect", "summary": "Referral " + strconv.Itoa(i), "significant_harm": i%3 == 0}))
	}
	return out
}

// reader is a participant that reads its deliveries as they come, the way
// `ecmctl deliveries --follow` does, and notes when it saw each event.
type reader struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func readContinuously(t *testing.T, env *testenv.Env, participant string) *reader {
	r := &reader{seen: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	client := &testenv.Env{T: t, Base: env.Base}
	go func() {
		defer close(done)
		after := uint64(0)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/v1/deliveries?after=%d&limit=1000", client.Base, after), nil)
			req.Header.Set("Authorization", "Bearer "+demo.Token(participant))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			var page struct {
				Deliveries []testenv.Delivery `json:"deliveries"`
				Next       uint64             `json:"next"`
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || json.Unmarshal(buf.Bytes(), &page) != nil {
				continue
			}
			now := time.Now()
			r.mu.Lock()
			for _, d := range page.Deliveries {
				r.seen[d.Event["id"].(string)] = now
			}
			r.mu.Unlock()
			after = page.Next
			if len(page.Deliveries) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return r
}

// latencies publishes events one after another and returns, for each one
// the reader should receive (significant harm), how long after its
// publication the reader had it.
func (r *reader) latencies(t *testing.T, env *testenv.Env, events []map[string]any) []time.Duration {
	t.Helper()
	published := map[string]time.Time{}
	for _, ev := range events {
		published[ev["id"].(string)] = time.Now()
		env.MustPublish("leeds/lea", ev)
	}
	var out []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for _, ev := range events {
		if ev["data"].(map[string]any)["significant_harm"] != true {
			continue
		}
		id := ev["id"].(string)
		for {
			r.mu.Lock()
			at, ok := r.seen[id]
			r.mu.Unlock()
			if ok {
				out = append(out, at.Sub(published[id]))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the reader never received %s", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return out
}

// metricValue reads one series from /metrics ("name" or
// `name{label="value",...}` with the labels in the order Prometheus writes
// them, alphabetical); 0 when the series is absent.
func metricValue(t *testing.T, env *testenv.Env, series string) float64 {
	t.Helper()
	r := env.Do("GET", "/metrics", demo.OperatorToken, "", nil) // an operator's token (docs/security.md)
	if r.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", r.Code)
	}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}
