package run

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
)

// watch runs r on a drop folder until stop is called.
func watch(t *testing.T, r *Runner, dir string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, NewFolderSource(FolderOptions{Dir: dir, Poll: 20 * time.Millisecond, Logger: testLogger(t)}))
	}()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestFolder(t *testing.T) {
	s, st := newBroker(t)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	r, err := New(Options{Agency: fakeAgency{}, Area: testArea, Publisher: natsPub(t, s.ClientURL()),
		Logger: testLogger(t), Metrics: NewMetrics(reg), BatchEvents: 2})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "mixed.fake"), "one\nbad no uin\n\nmulti two\nthree\nbad date 2026-13-01\n")
	write(t, filepath.Join(dir, "allbad.fake"), "bad a\nbad b\n")
	write(t, filepath.Join(dir, "copying.fake.part"), "four\n")
	write(t, filepath.Join(dir, ".hidden.fake"), "five\n")
	stop := watch(t, r, dir)
	eventually(t, "both files to be settled", func() bool {
		return exists(filepath.Join(dir, "partial", "mixed.fake")) && exists(filepath.Join(dir, "failed", "allbad.fake"))
	})
	stop()

	msgs := stored(t, st)
	if len(msgs) != 4 {
		t.Fatalf("stream holds %d events, want 4 (one, two twice, three)", len(msgs))
	}
	want := fakeEvent(testArea, "one")
	m := msgs[0]
	if m.Subject != "ecm.ingest.leeds.pct."+uin.Partition(want.Subject()) {
		t.Errorf("subject %q", m.Subject)
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != cenats.MsgID(want.Source(), want.ID()) {
		t.Errorf("Nats-Msg-Id %q, want %q", got, cenats.MsgID(want.Source(), want.ID()))
	}
	if got := m.Header.Get("ce-id"); got != want.ID() {
		t.Errorf("ce-id %q, want %q (binary mode)", got, want.ID())
	}
	if got := m.Header.Get("ce-source"); got != "%2Fleeds%2Fpct" && got != "/leeds/pct" {
		t.Errorf("ce-source %q", got)
	}
	if string(m.Data) != string(want.Data()) {
		t.Errorf("data %s, want %s", m.Data, want.Data())
	}

	if got, want := read(t, filepath.Join(dir, "partial", "mixed.fake.rejects")), "line 2: no uin\nline 6: date 2026-13-01\n"; got != want {
		t.Errorf("mixed rejects:\n%s\nwant\n%s", got, want)
	}
	if got, want := read(t, filepath.Join(dir, "failed", "allbad.fake.rejects")), "line 1: a\nline 2: b\n"; got != want {
		t.Errorf("allbad rejects:\n%s\nwant\n%s", got, want)
	}
	for _, name := range []string{"copying.fake.part", ".hidden.fake"} {
		if !exists(filepath.Join(dir, name)) {
			t.Errorf("%s was taken", name)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, ".progress")); len(entries) != 0 {
		t.Errorf("progress left behind: %v", entries)
	}
	if got := counter(t, reg, "ecm_adapter_records_read_total"); got != 7 {
		t.Errorf("records read = %v, want 7", got)
	}
	if got := counter(t, reg, "ecm_adapter_events_published_total"); got != 4 {
		t.Errorf("events published = %v, want 4", got)
	}
	if got := counter(t, reg, "ecm_adapter_records_rejected_total"); got != 4 {
		t.Errorf("records rejected = %v, want 4", got)
	}
	if tot := r.Totals(); tot.Exports != 2 || tot.Failed != 1 {
		t.Errorf("totals %+v", tot)
	}
}

func TestFolderSameNameTwice(t *testing.T) {
	s, st := newBroker(t)
	dir := t.TempDir()
	r := newRunner(t, natsPub(t, s.ClientURL()), 10)
	stop := watch(t, r, dir)
	defer stop()
	write(t, filepath.Join(dir, "daily.fake"), "a\nbad x\n")
	eventually(t, "first file", func() bool { return exists(filepath.Join(dir, "partial", "daily.fake")) })
	write(t, filepath.Join(dir, "daily.fake"), "b\nbad y\n")
	eventually(t, "second file", func() bool { return exists(filepath.Join(dir, "partial", "daily.2.fake")) })
	if got := read(t, filepath.Join(dir, "partial", "daily.fake.rejects")); got != "line 2: x\n" {
		t.Errorf("first rejects %q", got)
	}
	if got := read(t, filepath.Join(dir, "partial", "daily.2.fake.rejects")); got != "line 2: y\n" {
		t.Errorf("second rejects %q", got)
	}
	write(t, filepath.Join(dir, "daily.fake"), "c\n")
	eventually(t, "third file", func() bool { return exists(filepath.Join(dir, "done", "daily.fake")) })
	if exists(filepath.Join(dir, "done", "daily.fake.rejects")) {
		t.Error("third file has rejects")
	}
	if n := len(stored(t, st)); n != 3 {
		t.Errorf("stream holds %d, want 3", n)
	}
}

func TestUnreadableExport(t *testing.T) {
	s, st := newBroker(t)
	dir := t.TempDir()
	r := newRunner(t, natsPub(t, s.ClientURL()), 1)
	write(t, filepath.Join(dir, "broken.fake"), "one\nbad x\nfatal\nafter\n")
	write(t, filepath.Join(dir, "unknown.csv"), "one\n")
	stop := watch(t, r, dir)
	eventually(t, "both files failed", func() bool {
		return exists(filepath.Join(dir, "failed", "broken.fake")) && exists(filepath.Join(dir, "failed", "unknown.csv"))
	})
	stop()
	if got, want := read(t, filepath.Join(dir, "failed", "broken.fake.rejects")),
		"line 2: x\nexport: unreadable after line 2: the export breaks off\n"; got != want {
		t.Errorf("broken rejects %q, want %q", got, want)
	}
	if got := read(t, filepath.Join(dir, "failed", "unknown.csv.rejects")); !strings.HasPrefix(got, "export: fake: unknown.csv is not") {
		t.Errorf("unknown rejects %q", got)
	}
	if n := len(stored(t, st)); n != 1 {
		t.Errorf("stream holds %d, want 1 (the line before the break)", n)
	}
}

func TestRerunAddsNothing(t *testing.T) {
	s, st := newBroker(t)
	path := filepath.Join(t.TempDir(), "export.fake")
	write(t, path, "one\nmulti two\nbad x\nthree\n")
	for run := 1; run <= 2; run++ {
		r := newRunner(t, natsPub(t, s.ClientURL()), 2)
		if err := r.Run(context.Background(), NewFilesSource([]string{path}, nil)); err != nil {
			t.Fatal(err)
		}
		if tot := r.Totals(); tot.Published != 4 || tot.Rejected != 1 {
			t.Errorf("run %d: totals %+v", run, tot)
		}
		if n := len(stored(t, st)); n != 4 {
			t.Errorf("after run %d the stream holds %d events, want 4", run, n)
		}
		if got := read(t, path+".rejects"); got != "line 3: x\n" {
			t.Errorf("run %d: rejects %q", run, got)
		}
	}
}

func TestResume(t *testing.T) {
	s, st := newBroker(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "big.fake"), "one\nbad x\ntwo\nbad y\nthree\nfour\n")
	// A previous run stored up to line 3 and wrote the rejects of lines 2
	// and 4 before it stopped (line 4's batch was not yet stored).
	write(t, filepath.Join(dir, ".progress", "big.fake.offset"), "3\n")
	write(t, filepath.Join(dir, "big.fake.rejects"), "line 2: x\nline 4: y\n")
	r := newRunner(t, natsPub(t, s.ClientURL()), 1)
	stop := watch(t, r, dir)
	eventually(t, "file done", func() bool { return exists(filepath.Join(dir, "partial", "big.fake")) })
	stop()

	msgs := stored(t, st)
	var keys []string
	for _, m := range msgs {
		keys = append(keys, string(m.Data))
	}
	if len(msgs) != 2 || !strings.Contains(keys[0], "three") || !strings.Contains(keys[1], "four") {
		t.Errorf("stored %v, want only three and four", keys)
	}
	if got, want := read(t, filepath.Join(dir, "partial", "big.fake.rejects")), "line 2: x\nline 4: y\n"; got != want {
		t.Errorf("rejects %q, want %q", got, want)
	}
	if tot := r.Totals(); tot.Read != 3 || tot.Published != 2 || tot.Rejected != 1 {
		t.Errorf("totals %+v", tot)
	}
	if exists(filepath.Join(dir, ".progress", "big.fake.offset")) {
		t.Error("progress left behind")
	}
}

func TestProgressOfAnotherFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.fake")
	write(t, path, "one\ntwo\n")
	st, _ := os.Stat(path)
	prog := progressPath(dir, "x.fake")
	if err := writeProgress(prog, 1, st); err != nil {
		t.Fatal(err)
	}
	if n, _ := readProgress(prog, st); n != 1 {
		t.Errorf("own progress = %d, want 1", n)
	}
	write(t, path, "a new export\nof the same name\n")
	st2, _ := os.Stat(path)
	if n, _ := readProgress(prog, st2); n != 0 {
		t.Errorf("progress of another file = %d, want 0", n)
	}
}

func TestBrokerDown(t *testing.T) {
	dir := t.TempDir()
	s := startNATS(t, -1, dir)
	createIngest(t, s.ClientURL())
	port := s.Addr().(*net.TCPAddr).Port
	url := s.ClientURL()
	s.Shutdown()
	s.WaitForShutdown()

	path := filepath.Join(t.TempDir(), "export.fake")
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "k%d\n", i)
	}
	write(t, path, b.String())
	r := newRunner(t, natsPub(t, url), 50)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), NewFilesSource([]string{path}, nil)) }()

	time.Sleep(time.Second)
	select {
	case err := <-done:
		t.Fatalf("Run returned while the broker was down: %v", err)
	default:
	}
	if exists(progressPath(filepath.Dir(path), "export.fake")) {
		t.Error("progress saved while nothing was stored")
	}
	s2 := startNATS(t, port, dir) // same port, same store

	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not finish after the broker came back")
	}
	st := createIngest(t, s2.ClientURL())
	msgs := stored(t, st)
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.Header.Get("ce-id")] = true
	}
	if len(msgs) != 300 || len(ids) != 300 {
		t.Errorf("stream holds %d events with %d ids, want 300 exactly once", len(msgs), len(ids))
	}
	if tot := r.Totals(); tot.Published != 300 {
		t.Errorf("totals %+v", tot)
	}
}

// counter reads a runner counter's value for agency pct.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "agency" && l.GetValue() == "pct" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{agency=pct}", name)
	return 0
}

// flakyBroker stops the server while the second batch is being published
// and starts it again (same port, same store) a little later.
type flakyBroker struct {
	Publisher
	t       *testing.T
	s       *server.Server
	dir     string
	back    chan *server.Server
	batches atomic.Int32
}

func (f *flakyBroker) Publish(ctx context.Context, events []event.Event) error {
	if f.batches.Add(1) == 2 {
		go func() {
			port := f.s.Addr().(*net.TCPAddr).Port
			f.s.Shutdown()
			f.s.WaitForShutdown()
			time.Sleep(500 * time.Millisecond)
			f.back <- startNATS(f.t, port, f.dir)
		}()
	}
	return f.Publisher.Publish(ctx, events)
}

func TestBrokerGoesDownMidFile(t *testing.T) {
	dir := t.TempDir()
	s := startNATS(t, -1, dir)
	createIngest(t, s.ClientURL())
	path := filepath.Join(t.TempDir(), "export.fake")
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "k%d\n", i)
	}
	write(t, path, b.String())
	f := &flakyBroker{Publisher: natsPub(t, s.ClientURL()), t: t, s: s, dir: dir, back: make(chan *server.Server, 1)}
	r := newRunner(t, f, 5000)
	if err := r.Run(context.Background(), NewFilesSource([]string{path}, nil)); err != nil {
		t.Fatal(err)
	}
	s2 := <-f.back
	msgs := stored(t, createIngest(t, s2.ClientURL()))
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.Header.Get("ce-id")] = true
	}
	if len(msgs) != 20000 || len(ids) != 20000 {
		t.Errorf("stream holds %d events with %d ids, want 20000 exactly once", len(msgs), len(ids))
	}
}
