package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const testArea = "leeds"

// startNATS runs a JetStream server on 127.0.0.1 (port -1: a random one)
// with its store in dir, until the test ends or it is shut down.
func startNATS(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// newBroker starts a server and creates the broker's ingest stream on it.
func newBroker(t testing.TB) (*server.Server, jetstream.Stream) {
	t.Helper()
	s := startNATS(t, -1, t.TempDir())
	return s, createIngest(t, s.ClientURL())
}

func createIngest(t testing.TB, url string) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: "ECM_INGEST", Subjects: []string{"ecm.ingest.>"}, Duplicates: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedMsg is a message of the ingest stream.
type storedMsg struct {
	Subject string
	Header  nats.Header
	Data    []byte
}

// stored reads every message of the stream, in order.
func stored(t testing.TB, st jetstream.Stream) []storedMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := int(info.State.Msgs)
	if n == 0 {
		return nil
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]storedMsg, 0, n)
	for len(out) < n {
		batch, err := c.FetchNoWait(min(n-len(out), 1000))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			out = append(out, storedMsg{m.Subject(), m.Headers(), m.Data()})
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d messages", len(out), n)
		}
	}
	return out
}

func natsPub(t testing.TB, url string) Publisher {
	t.Helper()
	p, err := NewNATSPublisher(wire.IngestSpace(testArea+"/pct"), NATSOptions{URL: url,
		ReconnectWait: 100 * time.Millisecond, AckTimeout: 2 * time.Second,
		Backoff: Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testLogger(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		return zaptest.NewLogger(tt)
	}
	return zap.NewNop()
}

func newRunner(t testing.TB, p Publisher, batch int) *Runner {
	t.Helper()
	r, err := New(Options{Agency: fakeAgency{}, Area: testArea, Publisher: p, Logger: testLogger(t), BatchEvents: batch})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed in, as an exporter should: the folder
	// source ignores *.part, so it never takes a half-written file.
	if err := os.WriteFile(path+".part", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".part", path); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually waits up to 10s for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
