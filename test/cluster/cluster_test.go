package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publisher is the participant whose events the tests publish.
const publisher = "leeds/lea"

// The streams and buckets the broker keeps, as JetStream names them: the
// publisher's own ingest stream among them (the other participants' hold
// nothing).
var allStreams = []string{wire.IngestStream(publisher), wire.StreamIngest, wire.StreamDelivery, wire.StreamAudit, wire.StreamDeadLetter,
	"KV_" + wire.BucketChildren, "KV_" + wire.BucketMeta}

// Two broker instances share a three-node cluster, every stream at three
// replicas and fsync before acknowledgement (nats.conf). While a few
// thousand referrals flow in over NATS, the node that broker A is connected
// to, and that leads the ingest and delivery streams, is stopped and started
// again on its old store; later broker A itself goes away and B takes over
// its partitions. At the end every participant holds each of its copies
// exactly once, every event has exactly one audit record of its decision and
// one of its copies, nothing is
// dead-lettered, and all three nodes hold the same messages.
func TestNodeLossWithTwoBrokers(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	c := Start(t, Options{})
	cfg := demo.Config()
	cfg.Replicas = Size
	// A connects to n1 first, B to n2: stopping n1 takes A's connection away
	// and leaves B's.
	a := startSupervised(t, broker.Options{Config: cfg, NATSURL: order(c, 0), NATSOpts: []nats.Option{nats.DontRandomize()}})
	b := startSupervised(t, broker.Options{Config: cfg, NATSURL: order(c, 1), NATSOpts: []nats.Option{nats.DontRandomize()}})
	if got := c.Index(a.Broker.NATSURL()); got != 0 {
		t.Fatalf("broker A connected to node %d, want 0", got)
	}
	nc, js := c.Connect()
	for _, s := range []string{wire.IngestStream(publisher), wire.StreamIngest, wire.StreamDelivery} {
		c.MoveLeader(js, nc, s, 0)
	}

	events, want := referrals(n)
	var acked atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() { defer wg.Done(); publishAll(t, c, events, &acked) }()

	waitFor(t, "a third of the events published", func() bool { return acked.Load() >= int64(n/3) })
	t.Logf("%d events acknowledged after %v; stopping %s (broker A's node, leader of %s, %s and %s)",
		acked.Load(), time.Since(start).Round(time.Millisecond), c.Node(0).Name, wire.IngestStream(publisher), wire.StreamIngest, wire.StreamDelivery)
	stopped := time.Now()
	c.Stop(0)
	waitFor(t, "broker A reconnected to another node", func() bool {
		i := c.Index(a.Broker.NATSURL())
		return i > 0 && ready(a)
	})
	t.Logf("broker A reconnected to %s after %v", a.Broker.NATSURL(), time.Since(stopped).Round(time.Millisecond))
	time.Sleep(time.Second)
	c.Restart(0)
	c.WaitCurrent(js, allStreams...)
	t.Logf("%s restarted and current after %v down", c.Node(0).Name, time.Since(stopped).Round(time.Millisecond))

	waitFor(t, "two thirds of the events published", func() bool { return acked.Load() >= int64(2*n/3) })
	t.Logf("%d events acknowledged; stopping broker A, B takes over its partitions", acked.Load())
	a.Broker.Close()
	wg.Wait()
	t.Logf("all %d events acknowledged after %v", n, time.Since(start).Round(time.Millisecond))

	testenv.WaitIdle(t, b.Broker.JetStream())
	t.Logf("every event decided after %v", time.Since(start).Round(time.Millisecond))
	checkExactlyOnce(t, b, want)
	checkAudit(t, js, n)
	c.WaitCurrent(js, allStreams...)
	checkReplicasAgree(t, c)
}

// startSupervised starts a broker as docker-compose.yml's restart policy
// and cluster.sh do: one that stops during start-up (on a cluster that was
// formed a moment ago) is started again, up to five times. Each such stop
// is logged: it is a start-up problem of the broker, not of node loss.
func startSupervised(t *testing.T, o broker.Options) *testenv.Env {
	t.Helper()
	o.Policies, o.HTTPAddr = policies.FS, "127.0.0.1:0"
	for try := 1; ; try++ {
		b, err := broker.New(context.Background(), o)
		if err == nil {
			b.Start()
			t.Cleanup(b.Close)
			return &testenv.Env{T: t, Broker: b, Config: o.Config, Base: "http://" + b.HTTPAddr()}
		}
		if try == 5 {
			t.Fatalf("starting broker: %v", err)
		}
		t.Logf("BROKER START-UP FAILED, started again: %v", err)
		time.Sleep(time.Second)
	}
}

// order lists the cluster's URLs starting with node first.
func order(c *Cluster, first int) string {
	urls := c.Node(first).URL
	for i := range Size {
		if i != first {
			urls += "," + c.Node(i).URL
		}
	}
	return urls
}

// referrals makes n safeguarding referrals from leeds/lea, each about a
// different child: each goes to leeds/la-social-care, and to leeds/police
// when significant harm is alleged (every third).
func referrals(n int) ([]*nats.Msg, map[string]int) {
	want := map[string]int{"leeds/la-social-care": 0, "leeds/police": 0}
	var msgs []*nats.Msg
	for i := 0; len(msgs) < n; i++ {
		child, ok := uin.WithCheckDigit(fmt.Sprintf("7%08d", i))
		if !ok {
			continue
		}
		harm := len(msgs)%3 == 0
		ev := testenv.Event(publisher, "safeguarding.referral", child,
			map[string]any{"category": "neglect", "summary": "Referral " + strconv.Itoa(len(msgs)), "significant_harm": harm})
		body, _ := json.Marshal(ev)
		m := nats.NewMsg(wire.IngestSubject(publisher, child))
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID(ev["source"].(string), ev["id"].(string)))
		m.Data = body
		msgs = append(msgs, m)
		want["leeds/la-social-care"]++
		if harm {
			want["leeds/police"]++
		}
	}
	return msgs, want
}

// publishAll publishes as an adapter does: in windows of asynchronous
// publishes, each one retried with the same message id until JetStream
// acknowledges it, whatever happens to the cluster meanwhile.
func publishAll(t *testing.T, c *Cluster, msgs []*nats.Msg, acked *atomic.Int64) {
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Error(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second))
	// 200 events every half second, so that the faults of the test happen
	// while events are still arriving.
	const window = 200
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for lo := 0; lo < len(msgs); lo += window {
		if lo > 0 {
			<-tick.C
		}
		todo := msgs[lo:min(lo+window, len(msgs))]
		for try := 0; len(todo) > 0; try++ {
			if try > 100 {
				t.Errorf("%d events still not acknowledged after 100 tries", len(todo))
				return
			}
			var futures []jetstream.PubAckFuture
			var sent []*nats.Msg
			for _, m := range todo {
				f, err := js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
				if err != nil {
					break
				}
				futures, sent = append(futures, f), append(sent, m)
			}
			var again []*nats.Msg
			again = append(again, todo[len(sent):]...)
			for i, f := range futures {
				select {
				case <-f.Ok():
					acked.Add(1)
				case <-f.Err():
					again = append(again, sent[i])
				}
			}
			if todo = again; len(todo) > 0 {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// checkExactlyOnce reads each participant's deliveries back and checks that
// each event it should have is there exactly once.
func checkExactlyOnce(t *testing.T, env *testenv.Env, want map[string]int) {
	t.Helper()
	for participant, n := range want {
		seen := map[string]bool{}
		for _, d := range deliveries(t, env, participant) {
			id := d.Event["source"].(string) + "#" + d.Event["id"].(string)
			if seen[id] {
				t.Errorf("%s received %s twice", participant, id)
			}
			seen[id] = true
		}
		if len(seen) != n {
			t.Errorf("%s received %d distinct events, want %d", participant, len(seen), n)
		}
	}
	for _, p := range env.Config.Participants {
		if _, counted := want[p.ID]; !counted {
			if ds := deliveries(t, env, p.ID); len(ds) != 0 {
				t.Errorf("%s received %d copies, want none", p.ID, len(ds))
			}
		}
	}
}

// checkAudit checks that each of the n children has exactly two audit
// records (one referral each: its decision, then the record of its copy to
// social care, stored) and that nothing was dead-lettered.
// ecm.audit._* (checkpoints, operator records) concern no child.
func checkAudit(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, wire.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("ecm.audit.>"))
	if err != nil {
		t.Fatal(err)
	}
	records, children := uint64(0), 0
	for subj, k := range info.State.Subjects {
		if strings.HasPrefix(subj, "ecm.audit._") {
			continue // the instances' checkpoints and operator records, about no child
		}
		records, children = records+k, children+1
		if k != 2 {
			t.Errorf("%s has %d audit records, want 2 (the decision and the copies)", subj, k)
		}
	}
	if children != n || records != uint64(2*n) {
		t.Errorf("audit: %d records about %d children, want %d about %d", records, children, 2*n, n)
	}
	dl, err := js.Stream(ctx, wire.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if m := dl.CachedInfo().State.Msgs; m != 0 {
		t.Errorf("%d dead letters, want none", m)
	}
}

// checkReplicasAgree compares each node's own copy of every stream: the
// restarted node holds what the others hold.
func checkReplicasAgree(t *testing.T, c *Cluster) {
	t.Helper()
	type state struct{ msgs, first, last uint64 }
	per := make([]map[string]state, Size)
	for i := range Size {
		jsz, err := c.Node(i).srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
		if err != nil {
			t.Fatal(err)
		}
		per[i] = map[string]state{}
		for _, acc := range jsz.AccountDetails {
			for _, s := range acc.Streams {
				per[i][s.Name] = state{s.State.Msgs, s.State.FirstSeq, s.State.LastSeq}
			}
		}
	}
	for _, name := range allStreams {
		for i := 1; i < Size; i++ {
			if per[i][name] != per[0][name] {
				t.Errorf("%s: %s holds %+v, %s holds %+v", name, c.Node(0).Name, per[0][name], c.Node(i).Name, per[i][name])
			}
		}
	}
	t.Logf("every node holds the same: %+v", per[0])
}

// deliveries reads every copy a participant holds, as a client would: a
// 503 (the broker cannot reach JetStream at that moment) is retried, and
// logged, for up to 10 s.
func deliveries(t *testing.T, env *testenv.Env, participant string) []testenv.Delivery {
	t.Helper()
	var all []testenv.Delivery
	after := uint64(0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := env.Do("GET", fmt.Sprintf("/v1/deliveries?after=%d&limit=1000", after), demo.Token(participant), "", nil)
		if r.Code == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			t.Logf("deliveries of %s: %d %s; retrying", participant, r.Code, r.Body)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if r.Code != http.StatusOK {
			t.Fatalf("deliveries of %s: %d %s", participant, r.Code, r.Body)
		}
		var page struct {
			Deliveries []testenv.Delivery `json:"deliveries"`
			Next       uint64             `json:"next"`
		}
		r.JSON(t, &page)
		if len(page.Deliveries) == 0 {
			return all
		}
		all = append(all, page.Deliveries...)
		after = page.Next
	}
}

func ready(env *testenv.Env) bool {
	resp, err := http.Get(env.Base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
