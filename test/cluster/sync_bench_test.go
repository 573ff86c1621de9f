package cluster

// What sync_interval: always costs on the three-node cluster, every stream at
// three replicas, against the nats-server default (a flush every two
// minutes), end to end through one broker:
//
//	go test -run '^$' -bench ClusterSync -benchtime 3000x ./test/cluster/
//
// Reports events/s (published over NATS until all are audited);
// docs/durability.md has the figures.

import (
	"context"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

func BenchmarkClusterSync(b *testing.B) {
	for _, interval := range []string{"120s", "always"} {
		b.Run("sync="+interval, func(b *testing.B) {
			c := Start(b, Options{SyncInterval: interval})
			cfg := demo.Config()
			cfg.Replicas = Size
			testenv.StartWith(b, broker.Options{Config: cfg, NATSURL: c.URLs()})
			_, js := c.Connect()
			msgs, _ := referrals(b.N)
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
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			for {
				s, err := js.Stream(ctx, wire.StreamAudit)
				// Two records a referral: its decision, then its copy to
				// social care as stored (and a few checkpoints besides).
				if err == nil && s.CachedInfo().State.Msgs >= uint64(2*b.N) {
					break
				}
				if ctx.Err() != nil {
					b.Fatal("events not audited in time")
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
