package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkPush measures push delivery against the NATS path, on the same
// b.N copies of one participant held in ECM_DELIVERY:
//
//	go test -run '^$' -bench Push -benchtime 2000x ./test/bench/
//
// push-copies/s: the broker POSTs each copy to a webhook on loopback (one
// in flight per participant, acknowledged after the 2xx), counted from the
// first copy received to the last, so the broker's start is left out.
// pull-copies/s: the participant's own durable consumer reads the same
// copies in batches of 100 and acknowledges each, as an adapter does.
// push/pull is the ratio. Nothing here asserts a time.
func BenchmarkPush(b *testing.B) {
	const participant = "leeds/la-social-care"
	var mu sync.Mutex
	var first, last time.Time
	received := 0
	done := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received++
		if received == 1 {
			first = time.Now()
		}
		if received == b.N {
			last = time.Now()
			close(done)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	c := benchConfig(1)
	for i := range c.Participants {
		if c.Participants[i].ID == participant {
			c.Participants[i].Push = &config.Push{URL: rcv.URL, Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}
		}
	}
	if err := c.Check(); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	o := broker.Options{Config: c, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}}

	// The copies, stored before any pusher runs: a broker built, not started.
	env := testenv.New(b, o)
	storeCopies(b, env.Broker.JetStream(), participant, b.N)
	env.Broker.Close()

	b.ResetTimer()
	env = testenv.StartWith(b, o)
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("pushed %d of %d copies", received, b.N)
	}
	b.StopTimer()
	pushRate := float64(b.N-1) / last.Sub(first).Seconds()

	// The same copies through the participant's NATS consumer.
	js := env.Broker.JetStream()
	cons, err := js.Consumer(context.Background(), wire.StreamDelivery, wire.DeliveryConsumer(participant))
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	var pullFirst time.Time
	read := 0
	for read < b.N {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		for m := range batch.Messages() {
			if read == 0 {
				pullFirst = time.Now()
			}
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
			read++
		}
		if err := batch.Error(); err != nil && read < b.N {
			b.Fatalf("read %d of %d copies: %v", read, b.N, err)
		}
	}
	pullRate := float64(b.N-1) / time.Since(pullFirst).Seconds()
	b.StopTimer()
	if b.N > 1 {
		b.ReportMetric(pushRate, "push-copies/s")
		b.ReportMetric(pullRate, "pull-copies/s")
		b.ReportMetric(pushRate/pullRate, "push/pull")
	}
}

// storeCopies stores n copies for participant as the pipeline does: a
// structured CloudEvent each, under its own message id.
func storeCopies(b *testing.B, js jetstream.JetStream, participant string, n int) {
	b.Helper()
	var futs []jetstream.PubAckFuture
	for i := 0; i < n; i++ {
		id := uuid.NewString()
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/leeds/pct", "type": "uk.gov.ecm.index.practitioner.involved.v1",
			"subject": "9434765919", "time": time.Now().UTC().Format(time.RFC3339), "datacontenttype": "application/json",
			"data": map[string]any{"practitioner": map[string]any{"name": fmt.Sprintf("Visitor %d", i), "role": "health visitor"}, "service": "health visiting"}})
		m := nats.NewMsg(wire.DeliverySubject(participant))
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Header.Set(jetstream.MsgIDHeader, wire.DeliveryMsgID("/leeds/pct", id, participant))
		m.Header.Set(wire.HeaderBasis, "s12-4")
		m.Data = body
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
}
