package run

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters/pct"
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

// BenchmarkMLLP sends HL7 v2 ADT^A04 messages over MLLP from 16 connections
// at once, each message waiting for its ACK as an interface engine does,
// into the same embedded JetStream as BenchmarkNATSPublish, and reports
// messages/s. Each message maps to two events (registration and GP practice,
// its phone from the ODS practice file); the ACK is AA only once both are
// stored.
//
//	go test ./adapters/run -run '^$' -bench 'NATSPublish|MLLP' -benchtime 10x
func BenchmarkMLLP(b *testing.B) {
	const conns, perIteration = 16, 1600 // messages per b.N
	s, st := newBroker(b)
	practices, err := pct.LoadPractices("../pct/testdata/reference/epraccur.csv")
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(Options{Agency: pct.Agency{Practices: practices}, Area: testArea,
		Publisher: natsPub(b, s.ClientURL()), Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	src := NewMLLPSource(MLLPSourceOptions{Addr: "127.0.0.1:0", Concurrency: conns})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, src) }()
	defer func() { cancel(); <-done }()

	clients := make([]*bufio.ReadWriter, conns)
	for i := range clients {
		c, err := net.Dial("tcp", src.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	}
	total := b.N * perIteration
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, rw := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := i; m < total; m += conns {
				fmt.Fprintf(rw, "\x0bMSH|^~\\&|GPSYS|B86642|ECM|LEEDS|20250902101500||ADT^A04^ADT_A01|B%d|P|2.4\r"+
					"PID|1||4010234903^^^NHS^NH||KOWALSKA^Zofia^^^^^L||20230105|F|||7 Chapel Allerton Lane^^Leeds^^LS7 3PD^GBR^H\r"+
					"PD1|||^^B86642\rPV1|1|N\r\x1c\r", m)
				if err := rw.Flush(); err != nil {
					errs <- err
					return
				}
				ack, err := rw.ReadString(0x1c)
				if err == nil {
					_, err = rw.ReadByte()
				}
				if err != nil || !strings.Contains(ack, "\rMSA|AA|") {
					errs <- fmt.Errorf("message %d: %q %v", m, ack, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "messages/s")
	if info, err := st.Info(context.Background()); err != nil || info.State.Msgs != uint64(2*total) {
		b.Fatalf("stream holds %v events, want %d (%v)", info.State.Msgs, 2*total, err)
	}
}
