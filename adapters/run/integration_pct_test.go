package run_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/adapters/run"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
)

// The MLLP listener against a real broker (test/testenv: an embedded
// nats-server on 127.0.0.1 with the broker's streams, pipeline and policies)
// and a real TCP client, as an interface engine would connect.

// adt is an ADT^A04 as a GP system sends it through an integration engine:
// no Z segment, the practice by its ODS code only.
func adt(control, nhs string) string {
	return "MSH|^~\\&|GPSYS|B86642|ECM|LEEDS|20250902101500+0100||ADT^A04^ADT_A01|" + control + "|P|2.4|||AL|NE\r" +
		"EVN|A04|20250902101500+0100\r" +
		"PID|1||" + nhs + "^^^NHS^NH~B86642-1^^^B86642^PI||KOWALSKA^Zofia^^^^^L||20230105|F|||7 Chapel Allerton Lane^^Leeds^^LS7 3PD^GBR^H\r" +
		"PD1|||^^B86642\r" +
		"PV1|1|N\r"
}

// mllpAdapter runs the PCT adapter's runner on an MLLP listener publishing
// to url over NATS, until the test ends.
func mllpAdapter(t *testing.T, url string, timeout time.Duration) string {
	t.Helper()
	practices, err := pct.LoadPractices("../pct/testdata/reference/epraccur.csv")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := run.NewNATSPublisher(wire.IngestSpace("leeds/pct"), run.NATSOptions{URL: url,
		ReconnectWait: 50 * time.Millisecond, AckTimeout: time.Second,
		Backoff: run.Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return startMLLP(t, pct.Agency{Practices: practices}, pub, timeout)
}

func startMLLP(t *testing.T, a pct.Agency, pub run.Publisher, timeout time.Duration) string {
	t.Helper()
	r, err := run.New(run.Options{Agency: a, Area: "leeds", Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	src := run.NewMLLPSource(run.MLLPSourceOptions{Addr: "127.0.0.1:0", Timeout: timeout})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, src) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		pub.Close()
	})
	return src.Addr()
}

// engine is an interface engine's end of an MLLP connection.
type engine struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *engine {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &engine{t: t, conn: c, r: bufio.NewReader(c)}
}

func (e *engine) write(raw string) {
	e.t.Helper()
	if _, err := e.conn.Write([]byte(raw)); err != nil {
		e.t.Fatal(err)
	}
}

// send frames msg and returns the acknowledgement.
func (e *engine) send(msg string) ack {
	e.t.Helper()
	e.write("\x0b" + msg + "\x1c\r")
	return e.ack(30 * time.Second)
}

// ack reads the next acknowledgement.
func (e *engine) ack(wait time.Duration) ack {
	e.t.Helper()
	e.conn.SetReadDeadline(time.Now().Add(wait))
	if c, err := e.r.ReadByte(); err != nil || c != 0x0b {
		e.t.Fatalf("reading the ACK's start block: %q, %v", c, err)
	}
	body, err := e.r.ReadString(0x1c)
	if err != nil {
		e.t.Fatalf("reading the ACK: %v", err)
	}
	if c, err := e.r.ReadByte(); err != nil || c != '\r' {
		e.t.Fatalf("the ACK's end block is not followed by CR: %q, %v", c, err)
	}
	return parseACK(strings.TrimSuffix(body, "\x1c"))
}

// nothingMore checks that no other acknowledgement comes.
func (e *engine) nothingMore() {
	e.t.Helper()
	e.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := e.r.ReadByte(); err == nil {
		e.t.Fatalf("an unexpected answer follows: %q", b)
	}
}

type ack struct {
	raw     string
	code    string   // MSA-1
	control string   // MSA-2
	errs    []string // ERR segments
}

func parseACK(raw string) ack {
	a := ack{raw: raw}
	for _, seg := range strings.Split(strings.TrimSuffix(raw, "\r"), "\r") {
		f := strings.Split(seg, "|")
		switch f[0] {
		case "MSA":
			a.code = f[1]
			if len(f) > 2 {
				a.control = f[2]
			}
		case "ERR":
			a.errs = append(a.errs, seg)
		}
	}
	return a
}

// ingested counts the events leeds/pct has had durably accepted.
func ingested(t *testing.T, env *testenv.Env) uint64 {
	t.Helper()
	// The adapter's events are durably accepted once the PCT's own ingest
	// stream holds them (ECM_INGEST takes them in from there, a moment later).
	st, err := env.Broker.JetStream().Stream(t.Context(), wire.IngestStream("leeds/pct"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// AA comes once the broker holds the message's events, and they go on
// through the broker to children's social care.
func TestMLLPAcceptedOnceStored(t *testing.T) {
	env := testenv.Start(t, "")
	e := dial(t, mllpAdapter(t, env.Broker.NATSURL(), 10*time.Second))

	a := e.send(adt("ITK-1", "4010234903"))
	if a.code != "AA" || a.control != "ITK-1" || len(a.errs) != 0 {
		t.Fatalf("ACK %q, want AA for ITK-1 without ERR", a.raw)
	}
	if !strings.HasPrefix(a.raw, "MSH|^~\\&|ECM|LEEDS|GPSYS|B86642|") || !strings.Contains(a.raw, "|ACK^A04^ACK|") {
		t.Errorf("ACK header %q does not answer the message", a.raw)
	}
	// Right after the AA, before anything else happens: durably in the stream.
	if n := ingested(t, env); n != 2 {
		t.Fatalf("after AA the ingest stream holds %d events, want 2 (registration, GP)", n)
	}
	// A message sent again (the engine did not get the ACK) stores nothing new.
	if a := e.send(adt("ITK-1", "4010234903")); a.code != "AA" {
		t.Fatalf("second sending: %q", a.raw)
	}
	if n := ingested(t, env); n != 2 {
		t.Errorf("a message sent twice left %d events, want 2", n)
	}
	env.WaitIdle()
	var types []string
	for _, d := range env.Deliveries("leeds/la-social-care") {
		if d.Event["subject"] == "4010234903" {
			types = append(types, d.Event["type"].(string))
		}
	}
	if strings.Join(types, " ") != "uk.gov.ecm.index.child.registered.v1 uk.gov.ecm.index.gp.recorded.v1" {
		t.Errorf("social care received %v", types)
	}
}

// AE with ERR segments for a message nothing of which can be used; AA with
// warnings for one that maps in part.
func TestMLLPRejectedAndPartial(t *testing.T) {
	env := testenv.Start(t, "")
	e := dial(t, mllpAdapter(t, env.Broker.NATSURL(), 10*time.Second))
	tests := []struct {
		name    string
		msg     string
		code    string
		err     string // a substring of the ERR segment, "" for none
		stored  uint64 // events in the stream after it
		control string
	}{
		{"no NHS number", strings.Replace(adt("BAD-1", "4010234903"), "4010234903^^^NHS^NH~", "", 1),
			"AE", "ERR|PID^1^3^101&PID-3 has no NHS number", 0, "BAD-1"},
		{"bad check digit", adt("BAD-2", "4010234904"), "AE", "PID-3 NHS number: uin check digit does not match", 0, "BAD-2"},
		{"NHS number not traced (PID-32)", strings.Replace(adt("BAD-5", "4010234903"), "GBR^H\r", "GBR^H"+strings.Repeat("|", 21)+"04\r", 1),
			"AE", `PID-32 NHS number status is "04" (trace attempted, no match or multiple match found)`, 0, "BAD-5"},
		{"every part left out", "MSH|^~\\&|PAS|RR8|ECM|LEEDS|20251201092000||ADT^A28|BAD-3|P|2.3\r" +
			"PID|1||4010234911^^^NHS||DUBOIS^Lucas||20191331|M|||1 A Road^^Leeds^^LS13 4AB\rPD1|||^^B86071\r",
			"AE", "ERR|PID^1^7^102&index.child.registered left out: PID-7 date of birth", 0, "BAD-3"},
		{"practice without a contact: the registration goes", strings.Replace(adt("PART-1", "4010234938"), "B86642\r", "B86050\r", 1),
			"AA", "ERR|PD1^1^3^101&index.gp.recorded left out: PD1-3 practice B86050 has no contact", 1, "PART-1"},
		{"HL7 2.5: ERR-2 to ERR-8, the part left out a warning", strings.Replace(strings.Replace(adt("PART-2", "4010234946"), "B86642\r", "B86999\r", 1), "|2.4|", "|2.5|", 1),
			"AA", "ERR||PD1^1^3|101^Required field missing^HL70357|W||||index.gp.recorded left out: PD1-3 practice B86999 has no contact", 2, "PART-2"},
		{"HL7 2.5, every part left out: severity E", strings.NewReplacer("20230105", "20231305", "|2.4|", "|2.5|", "B86642\r", "B86999\r").Replace(adt("BAD-4", "4010234946")),
			"AE", "ERR||PID^1^7|102^Data type error^HL70357|E||||index.child.registered left out: PID-7 date of birth", 2, "BAD-4"},
		{"not HL7", "hello, is anyone there?", "AE", "does not start with an MSH segment", 2, ""},
		{"two messages in one frame", adt("TWO-1", "4010234946") + adt("TWO-2", "4010234954"), "AE", "the frame holds 2 messages", 2, "TWO-1"},
		{"results are not the index's business", "MSH|^~\\&|LAB|RR8|ECM|LEEDS|20251201092000||ORU^R01|LAB-1|P|2.4\rPID|1||4010234903^^^NHS^NH\rOBX|1|NM|HB||120\r",
			"AA", "", 2, "LAB-1"},
		{"NHS number verified (PID-32 01)", strings.Replace(adt("OK-32", "4010234962"), "GBR^H\r", "GBR^H"+strings.Repeat("|", 21)+"01\r", 1),
			"AA", "", 4, "OK-32"}, // the registration and the GP practice
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.send(tt.msg)
			if a.code != tt.code || a.control != tt.control {
				t.Errorf("ACK %q, want %s for %q", a.raw, tt.code, tt.control)
			}
			if tt.err == "" && len(a.errs) > 0 || tt.err != "" && !strings.Contains(strings.Join(a.errs, "\n"), tt.err) {
				t.Errorf("ERR segments %q, want one containing %q", a.errs, tt.err)
			}
			if n := ingested(t, env); n != tt.stored {
				t.Errorf("the stream holds %d events, want %d", n, tt.stored)
			}
		})
	}
}

// AR while the broker is down, so that the engine sends the message again;
// once it is back the same message is accepted and stored once.
func TestMLLPBrokerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	opts := broker.Options{Embedded: natsauth.EmbeddedOptions{Listen: listen, StoreDir: dir}}
	env := testenv.StartWith(t, opts)
	e := dial(t, mllpAdapter(t, env.Broker.NATSURL(), time.Second))
	if a := e.send(adt("UP-1", "4010234903")); a.code != "AA" {
		t.Fatalf("before the broker went down: %q", a.raw)
	}

	env.Broker.Close()
	start := time.Now()
	a := e.send(adt("DOWN-1", "4010234911"))
	if a.code != "AR" || a.control != "DOWN-1" || !strings.Contains(strings.Join(a.errs, ""), "send it again") {
		t.Fatalf("while the broker is down: ACK %q, want AR saying to send it again", a.raw)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 10*time.Second {
		t.Errorf("AR after %v, want after the 1s timeout", took)
	}

	env = testenv.StartWith(t, opts) // same port, same store
	var got ack
	deadline := time.Now().Add(30 * time.Second)
	for got.code != "AA" && time.Now().Before(deadline) { // as an engine retries
		got = e.send(adt("DOWN-1", "4010234911"))
	}
	if got.code != "AA" {
		t.Fatalf("after the broker came back: %q", got.raw)
	}
	if n := ingested(t, env); n != 4 {
		t.Errorf("the stream holds %d events, want 4 (each message's two, once)", n)
	}
}

// Bytes between frames and a frame the engine abandoned half-way cost no
// message: the next whole frame is answered, and only it.
func TestMLLPGarbageAndHalfFrames(t *testing.T) {
	env := testenv.Start(t, "")
	e := dial(t, mllpAdapter(t, env.Broker.NATSURL(), 10*time.Second))
	e.write("\r\n\x00 keep-alive \r\n")
	e.write("\x0b" + adt("CUT-1", "4010234903")[:60]) // then the engine starts again
	if a := e.send(adt("WHOLE-1", "4010234903")); a.code != "AA" || a.control != "WHOLE-1" {
		t.Fatalf("ACK %q, want AA for WHOLE-1", a.raw)
	}
	e.nothingMore()
	e.write("\n\n")
	if a := e.send(adt("WHOLE-2", "4010234911")); a.code != "AA" || a.control != "WHOLE-2" {
		t.Fatalf("ACK %q, want AA for WHOLE-2", a.raw)
	}
	// A connection closed inside a frame is not answered; the next
	// connection is served as usual.
	e.write("\x0bMSH|^~\\&|GPSYS")
	e.conn.Close()
	if a := dial(t, e.conn.RemoteAddr().String()).send(adt("NEXT-1", "4010234938")); a.code != "AA" {
		t.Fatalf("next connection: %q", a.raw)
	}
	if n := ingested(t, env); n != 6 {
		t.Errorf("the stream holds %d events, want 6", n)
	}
}

// Several engines at once, each sending its messages one after another.
func TestMLLPConcurrentConnections(t *testing.T) {
	env := testenv.Start(t, "")
	addr := mllpAdapter(t, env.Broker.NATSURL(), 10*time.Second)
	const conns, each = 8, 5
	var wg sync.WaitGroup
	failures := make(chan string, conns*each)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				failures <- err.Error()
				return
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			for m := range each {
				control := fmt.Sprintf("C%d-M%d", c, m)
				conn.Write([]byte("\x0b" + adt(control, "4010234903") + "\x1c\r"))
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				body, err := r.ReadString('\r')
				for err == nil && !strings.HasSuffix(body, "\x1c\r") {
					var more string
					more, err = r.ReadString('\r')
					body += more
				}
				if a := parseACK(strings.Trim(body, "\x0b\x1c\r")); err != nil || a.code != "AA" || a.control != control {
					failures <- fmt.Sprintf("%s: %q %v", control, a.raw, err)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if n := ingested(t, env); n != conns*each*2 {
		t.Errorf("the stream holds %d events, want %d", n, conns*each*2)
	}
}

// With --dry-run the AA comes once the events are printed.
func TestMLLPDryRun(t *testing.T) {
	var out syncBuffer
	addr := startMLLP(t, pct.Agency{}, run.NewDryRunPublisher(&out), 10*time.Second)
	msg := strings.Replace(adt("DRY-1", "4010234903"), "PD1|||^^", "PD1|||Harehills Surgery^^", 1) + "ZGP|0113 496 0000\r"
	if a := dial(t, addr).send(msg); a.code != "AA" {
		t.Fatalf("ACK %q", a.raw)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("printed %d events before the AA, want 2:\n%s", n, out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// FHIR over the HTTP source: a UK Core Bundle posted with ?format=fhir is
// answered once its events are in the broker, parts left out listed.
func TestFHIROverHTTP(t *testing.T) {
	env := testenv.Start(t, "")
	practices, err := pct.LoadPractices("../pct/testdata/reference/epraccur.csv")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := run.NewNATSPublisher(wire.IngestSpace("leeds/pct"), run.NATSOptions{URL: env.Broker.NATSURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	r, err := run.New(run.Options{Agency: pct.Agency{Practices: practices}, Area: "leeds", Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	src := run.NewHTTPSource(run.HTTPSourceOptions{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, src) }()
	defer func() { cancel(); <-done }()

	for _, tt := range []struct {
		file                 string
		code, published, rej int
	}{
		{"../pct/testdata/ods/uk-core-patients.json", 200, 6, 0},
		{"../pct/testdata/ods/bad/fhir-rejects.json", 200, 5, 7},
	} {
		body, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post("http://"+src.Addr()+"/v1/records?format=fhir", "application/fhir+json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var a struct {
			Published int      `json:"published"`
			Rejects   []string `json:"rejects"`
		}
		json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if resp.StatusCode != tt.code || a.Published != tt.published || len(a.Rejects) != tt.rej {
			t.Errorf("%s: %d, %d published, rejects %q; want %d, %d, %d rejects", tt.file, resp.StatusCode, a.Published, a.Rejects, tt.code, tt.published, tt.rej)
		}
	}
	if n := ingested(t, env); n != 11 {
		t.Errorf("the stream holds %d events, want 11", n)
	}
	env.WaitIdle()
	if dls := env.DeadLetters(); len(dls) != 0 {
		t.Errorf("the broker refused %d FHIR events: %v", len(dls), dls[0].Reasons)
	}
}
