// Package bench measures the broker against raw JetStream on the same
// embedded server, in one run, so the figures are ratios against a baseline
// measured on the same machine at the same time:
//
//	go test -run '^$' -bench Pipeline -benchtime 20000x ./test/bench/
//
// b.N is the number of events per configuration. Each configuration runs a
// throughput pass (publish as fast as JetStream acknowledges, with bounded
// in-flight acks) and a latency pass paced at half of that configuration's
// peak.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"text/tabwriter"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// result of one configuration.
type result struct {
	name      string
	eventsSec float64
	p50, p99  time.Duration
}

// benchConfig builds a configuration of areas × the six agencies.
func benchConfig(areas int) *config.Config {
	c := &config.Config{Operators: []config.Operator{{Name: "ops", Token: "bench-operator-token"}}}
	for a := 0; a < areas; a++ {
		area := "leeds"
		if a > 0 {
			area = fmt.Sprintf("area-%03d", a)
		}
		for _, ag := range []string{"la-social-care", "lea", "pct", "connexions", "yot", "police"} {
			c.Participants = append(c.Participants, config.Participant{ID: area + "/" + ag, Agency: ag, Area: area,
				Token: fmt.Sprintf("bench-token-%s-%s", area, ag)})
		}
	}
	if err := c.Check(); err != nil {
		panic(err)
	}
	return c
}

var children = func() []string {
	out := make([]string, 0, 1000)
	for i := 0; len(out) < 1000; i++ {
		if s, ok := uin.WithCheckDigit(fmt.Sprintf("6%08d", i)); ok {
			out = append(out, s)
		}
	}
	return out
}()

// event is a 1 KiB safeguarding referral from leeds/lea, structured mode.
func event(i int) *nats.Msg {
	ev := map[string]any{"specversion": "1.0", "id": uuid.NewString(), "source": "/leeds/lea",
		"type": "uk.gov.ecm.safeguarding.referral.v1", "subject": children[i%len(children)],
		"time": time.Now().UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]any{"category": "neglect", "significant_harm": i%3 == 0, "summary": strings.Repeat("Seen at school without a coat. ", 24)}}
	b, _ := json.Marshal(ev)
	m := nats.NewMsg(wire.IngestSubject("leeds/lea", children[i%len(children)]))
	m.Header.Set("content-type", "application/cloudevents+json")
	m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID("/leeds/lea", ev["id"].(string)))
	m.Data = b
	return m
}

// publish sends n events, paced at rate per second (0: as fast as acks
// allow), and returns when all are acknowledged.
func publish(b *testing.B, js jetstream.JetStream, n int, rate float64) {
	start := time.Now()
	for i := 0; i < n; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		m := event(i)
		for {
			_, err := js.PublishMsgAsync(m)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				b.Fatal(err)
			}
			<-js.PublishAsyncComplete() // the server is behind: let it catch up
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatal("publish acks timed out")
	}
}

// watch counts audit records of decisions (one per decided event; not the
// records of copies that follow them) and their latency from the event's
// time.
type watch struct {
	mu   sync.Mutex
	lat  []time.Duration
	n    atomic.Int64
	done chan struct{}
	want int64
}

func newWatch(b *testing.B, nc *nats.Conn, subject string, want int, at func([]byte) time.Time) *watch {
	w := &watch{done: make(chan struct{}), want: int64(want)}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		t := at(m.Data)
		if t.IsZero() {
			return // not one to count
		}
		w.mu.Lock()
		w.lat = append(w.lat, time.Since(t))
		w.mu.Unlock()
		if w.n.Add(1) == w.want {
			close(w.done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	return w
}

func (w *watch) wait(b *testing.B) {
	select {
	case <-w.done:
	case <-time.After(3 * time.Minute):
		b.Fatalf("only %d of %d arrived", w.n.Load(), w.want)
	}
}

func (w *watch) percentiles() (p50, p99 time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sort.Slice(w.lat, func(i, j int) bool { return w.lat[i] < w.lat[j] })
	if len(w.lat) == 0 {
		return 0, 0
	}
	return w.lat[len(w.lat)/2], w.lat[len(w.lat)*99/100]
}

// auditTime is the event time a decision record names; zero for a record
// of copies.
func auditTime(data []byte) time.Time {
	var r struct {
		EventTime time.Time `json:"event_time"`
		Outcome   string    `json:"outcome"`
	}
	_ = json.Unmarshal(data, &r)
	if r.Outcome == "copies" {
		return time.Time{}
	}
	return r.EventTime
}

func rawTime(data []byte) time.Time {
	var r struct {
		Time time.Time `json:"time"`
	}
	_ = json.Unmarshal(data, &r)
	return r.Time
}

// runBroker measures one broker configuration, with extra instances
// sharing the first one's server.
func runBroker(b *testing.B, name string, o broker.Options, instances int) result {
	var res result
	b.Run(name, func(b *testing.B) {
		env := testenv.StartWith(b, o)
		for i := 1; i < instances; i++ {
			more := o
			more.NATSURL = env.Broker.NATSURL()
			testenv.StartWith(b, more)
		}
		nc, err := nats.Connect(env.Broker.NATSURL())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2048))
		publish(b, js, 200, 0) // warm up: policy, caches, connections
		testenv.WaitIdle(b, js)

		w := newWatch(b, nc, "ecm.audit.>", b.N, auditTime)
		b.ResetTimer()
		start := time.Now()
		publish(b, js, b.N, 0)
		w.wait(b)
		elapsed := time.Since(start)
		b.StopTimer()
		res.eventsSec = float64(b.N) / elapsed.Seconds()

		testenv.WaitIdle(b, js)
		n := max(b.N/2, 1)
		w = newWatch(b, nc, "ecm.audit.>", n, auditTime)
		publish(b, js, n, res.eventsSec/2)
		w.wait(b)
		res.p50, res.p99 = w.percentiles()
		b.ReportMetric(res.eventsSec, "events/s")
		b.ReportMetric(float64(res.p99.Microseconds()), "p99-µs")
	})
	res.name = name
	return res
}

// runRaw measures plain JetStream on the same kind of embedded server: async
// publish into a stream and a pull consumer that acks each message.
func runRaw(b *testing.B) result {
	var res result
	b.Run("raw-jetstream", func(b *testing.B) {
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoSigs: true})
		if err != nil {
			b.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			b.Fatal("server not ready")
		}
		defer s.Shutdown()
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2048))
		ctx := context.Background()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"ecm.ingest.>"}}); err != nil {
			b.Fatal(err)
		}
		cons, err := js.CreateOrUpdateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			b.Fatal(err)
		}
		run := func(n int, rate float64) (time.Duration, *watch) {
			w := &watch{done: make(chan struct{}), want: int64(n)}
			cc, err := cons.Consume(func(m jetstream.Msg) {
				t := rawTime(m.Data())
				_ = m.Ack()
				w.mu.Lock()
				w.lat = append(w.lat, time.Since(t))
				w.mu.Unlock()
				if w.n.Add(1) == w.want {
					close(w.done)
				}
			}, jetstream.PullMaxMessages(256))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Stop()
			start := time.Now()
			publish(b, js, n, rate)
			w.wait(b)
			return time.Since(start), w
		}
		b.ResetTimer()
		elapsed, _ := run(b.N, 0)
		b.StopTimer()
		res.eventsSec = float64(b.N) / elapsed.Seconds()
		_, w := run(max(b.N/2, 1), res.eventsSec/2)
		res.p50, res.p99 = w.percentiles()
		b.ReportMetric(res.eventsSec, "events/s")
		b.ReportMetric(float64(res.p99.Microseconds()), "p99-µs")
	})
	res.name = "raw-jetstream"
	return res
}

// nullPolicy allows every candidate: the "null broker" is the real broker
// with a policy that does next to nothing, so what it measures is everything
// but the statutory rules.
var nullPolicy = fstest.MapFS{
	"null.rego": {Data: []byte(`package ecm

decision[c.id] := {"allow": true, "basis": "consent", "remove": []} if some c in input.candidates
`)},
	"null_test.rego": {Data: []byte(`package ecm_test

import data.ecm

test_allows if ecm.decision["leeds/pct"].allow with input as {"candidates": [{"id": "leeds/pct"}]}
`)},
}

// BenchmarkPipeline runs raw JetStream, the null broker and the real broker
// with the statutory policies, and prints the figures and their ratios.
func BenchmarkPipeline(b *testing.B) {
	raw := runRaw(b)
	null := runBroker(b, "null-broker-6", broker.Options{Config: benchConfig(1), Policies: nullPolicy}, 1)
	real6 := runBroker(b, "real-broker-6", broker.Options{Config: benchConfig(1)}, 1)
	real900 := runBroker(b, "real-broker-900", broker.Options{Config: benchConfig(150)}, 1)
	results := []result{raw, null, real6, real900}
	if os.Getenv("ECM_BENCH_INSTANCES") != "" {
		// On two cores more instances show the cost of sharing, not a speed-up.
		results = append(results,
			runBroker(b, "real-900-2-instances", broker.Options{Config: benchConfig(150)}, 2),
			runBroker(b, "real-900-3-instances", broker.Options{Config: benchConfig(150)}, 3))
	}
	tw := tabwriter.NewWriter(os.Stdout, 4, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nconfiguration\tevents/s\tp50 at half peak\tp99 at half peak\t\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%v\t%v\t\n", r.name, r.eventsSec, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
	}
	tw.Flush()
	if raw.eventsSec > 0 && null.eventsSec > 0 {
		fmt.Printf("ratios: null/raw %.2f  real-6/null %.2f  real-900/null %.2f  p99 real-900/raw %.1fx\n",
			null.eventsSec/raw.eventsSec, real6.eventsSec/null.eventsSec, real900.eventsSec/null.eventsSec,
			float64(real900.p99)/float64(max(raw.p99, 1)))
	}
}
