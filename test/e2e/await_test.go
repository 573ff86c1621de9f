package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A rejected event about a child is acknowledged only once both its dead
// letter and its audit record are stored: while the audit cannot take the
// record the event stays unacknowledged (and is redelivered), and once the
// audit can, the record is there. Before the fix the record's publish was
// never awaited, the event was acknowledged, and the record was lost.
func TestRejectedEventAckWaitsForItsAuditRecord(t *testing.T) {
	env := testenv.Start(t, "")
	ctx := context.Background()
	js := env.Broker.JetStream()
	audit, err := js.Stream(ctx, wire.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	cfg := audit.CachedInfo().Config
	refusing := cfg
	refusing.MaxMsgSize = 64 // every audit record is larger: the audit refuses them all
	if _, err := js.UpdateStream(ctx, refusing); err != nil {
		t.Fatal(err)
	}
	// An event about Amy that fails validation (no data), published over NATS
	// so the pipeline dead-letters it.
	ev := testenv.Event("leeds/pct", "index.child.registered", amy, nil)
	delete(ev, "data")
	body, _ := json.Marshal(ev)
	m := nats.NewMsg(wire.IngestSubject("leeds/pct", amy))
	m.Header.Set("Content-Type", "application/cloudevents+json")
	m.Header.Set(jetstream.MsgIDHeader, wire.EventMsgID("/leeds/pct", ev["id"].(string)))
	m.Data = body
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, wire.StreamIngest, wire.ConsumerPrefix+uin.Partition(amy))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumRedelivered > 0 {
			break // taken, not acknowledged, offered again: the ack waits
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer > 0 {
			t.Fatal("the rejected event was acknowledged although its audit record could not be stored")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no redelivery within 10s: %+v", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if recs := env.Audit(amy); len(recs) != 0 {
		t.Fatalf("audit holds %d records while refusing them", len(recs))
	}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	env.WaitIdle()
	recs := env.Audit(amy)
	if len(recs) != 1 || recs[0].Outcome != "rejected" {
		t.Fatalf("after the audit recovered: %+v", recs)
	}
}
