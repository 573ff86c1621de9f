package bench

// What fsync before acknowledgement costs (--sync-always on the embedded
// server, sync_interval: always on a nats-server), measured both ways in one
// run on the same machine:
//
//	go test -run '^$' -bench Sync -benchtime 5000x ./test/bench/
//
// raw: 1 KiB messages into one file stream, 256 publishes in flight.
// broker: referrals published over NATS until the broker has audited them
// all (validate, decide, deliver, audit, child state: about five
// acknowledged writes per event).
// Each reports events/s; docs/durability.md has the figures and the ratio.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var syncSettings = []struct {
	name   string
	always bool
}{{"interval=2m", false}, {"always", true}}

func BenchmarkSyncRaw(b *testing.B) {
	for _, s := range syncSettings {
		b.Run(s.name, func(b *testing.B) {
			srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
				StoreDir: b.TempDir(), SyncAlways: s.always, NoSigs: true})
			if err != nil {
				b.Fatal(err)
			}
			go srv.Start()
			if !srv.ReadyForConnections(10 * time.Second) {
				b.Fatal("server not ready")
			}
			b.Cleanup(srv.Shutdown)
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage}); err != nil {
				b.Fatal(err)
			}
			body := []byte(strings.Repeat("x", 1024))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := js.PublishAsync(fmt.Sprintf("raw.%d", i%16), body, jetstream.WithStallWait(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(5 * time.Minute):
				b.Fatal("acks timed out")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

func BenchmarkSyncBroker(b *testing.B) {
	for _, s := range syncSettings {
		b.Run(s.name, func(b *testing.B) {
			env := testenv.StartWith(b, broker.Options{Embedded: natsauth.EmbeddedOptions{SyncAlways: s.always}})
			nc, err := nats.Connect(env.Broker.NATSURL())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
			msgs := syncReferrals(b.N)
			b.ResetTimer()
			start := time.Now()
			for _, m := range msgs {
				if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(5 * time.Minute):
				b.Fatal("acks timed out")
			}
			syncWaitAudited(b, js, b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// syncReferrals makes n referrals from leeds/lea about n children, every
// third alleging significant harm (two copies), as NATS messages.
func syncReferrals(n int) []*nats.Msg {
	var out []*nats.Msg
	for i := 0; len(out) < n; i++ {
		child, ok := uin.WithCheckDigit(fmt.Sprintf("8%08d", i))
		if !ok {
			continue
		}
		ev := map[string]any{"specversion": "1.0", "id": uuid.NewString(), "source": "/leeds/lea",
			"type": "uk.gov.ecm.safeguarding.referral.v1", "subject": child, "time": time.Now().UTC().Format(time.RFC3339),
			"datacontenttype": "application/json",
			"data":            map[string]any{"category": "neglect", "summary": "Seen at school without a coat.", "significant_harm": len(out)%3 == 0}}
		body, _ := json.Marshal(ev)
		m := nats.NewMsg(wire.IngestSubject("leeds/lea", child))
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID("/leeds/lea", ev["id"].(string)))
		m.Data = body
		out = append(out, m)
	}
	return out
}

// syncWaitAudited waits until ECM_AUDIT holds the records of n referrals:
// two each, the decision and then the record of its copy as stored.
func syncWaitAudited(b *testing.B, js jetstream.JetStream, n int) {
	n *= 2
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		s, err := js.Stream(ctx, wire.StreamAudit)
		if err == nil && s.CachedInfo().State.Msgs >= uint64(n) {
			return
		}
		if ctx.Err() != nil {
			b.Fatalf("only %d of %d events audited", s.CachedInfo().State.Msgs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
