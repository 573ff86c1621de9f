package run

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkNATSPublish maps and publishes a 10,000-record export into a real
// embedded JetStream server (file store), waiting for every ack, and reports
// records/s. Each iteration's records are new, so none is deduplicated.
//
//	go test ./adapters/run -run '^$' -bench NATSPublish -benchtime 10x
func BenchmarkNATSPublish(b *testing.B) {
	const records = 10_000
	s, st := newBroker(b)
	p := natsPub(b, s.ClientURL())
	r := newRunner(b, p, 0)
	exports := make([][]byte, b.N)
	for i := range exports {
		var buf bytes.Buffer
		for j := range records {
			fmt.Fprintf(&buf, "bench-%d-%d\n", i, j)
		}
		exports[i] = buf.Bytes()
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		res := r.Process(context.Background(), &Export{Name: "bench", Hint: "bench.fake",
			Body: bytes.NewReader(exports[i]), Rejects: io.Discard})
		if res.Published != records || res.Incomplete != nil {
			b.Fatalf("published %d: %v", res.Published, res.Incomplete)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*records)/time.Since(start).Seconds(), "records/s")
	if info, err := st.Info(context.Background()); err != nil || info.State.Msgs != uint64(b.N*records) {
		b.Fatalf("stream holds %v messages, want %d (%v)", info.State.Msgs, b.N*records, err)
	}
}
