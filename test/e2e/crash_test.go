package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"gopkg.in/yaml.v3"
)

// brokerProc is the broker running as a separate process, so that it can
// die as a crashed process does.
type brokerProc struct {
	t                 *testing.T
	bin, dir, conf    string
	httpAddr, natsAdr string
	cmd               *exec.Cmd
	exited            chan error
}

func startProc(t *testing.T, p *brokerProc, env ...string) {
	t.Helper()
	cmd := exec.Command(p.bin, "--config", p.conf, "--data", p.dir, "--http", p.httpAddr, "--listen", p.natsAdr)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.exited = cmd, make(chan error, 1)
	go func() { p.exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker did not start: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newProc(t *testing.T) *brokerProc {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ecm-broker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/ecm-broker").CombinedOutput(); err != nil {
		t.Fatalf("building broker: %v\n%s", err, out)
	}
	cfg, err := yaml.Marshal(demo.Config())
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ecm.yaml")
	if err := os.WriteFile(conf, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return &brokerProc{t: t, bin: bin, dir: filepath.Join(dir, "data"), conf: conf, httpAddr: freeAddr(t), natsAdr: freeAddr(t)}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// publishUntilAccepted posts events as an adapter would: each is retried
// until the broker answers 202, whatever happens to the broker meanwhile.
func publishUntilAccepted(t *testing.T, addr string, events []map[string]any) {
	for _, ev := range events {
		body, _ := json.Marshal(ev)
		for {
			req, _ := http.NewRequest("POST", "http://"+addr+"/v1/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+demo.Token("leeds/lea"))
			req.Header.Set("Content-Type", "application/cloudevents+json")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// referrals makes n safeguarding referrals about n unregistered Leeds
// children: each goes to leeds/la-social-care, and to leeds/police when
// significant harm is alleged (every third one).
func referrals(n int) (events []map[string]any, social, police int) {
	for i := 0; i < n; i++ {
		child := ""
		for k := 0; child == ""; k++ {
			child, _ = uin.WithCheckDigit(fmt.Sprintf("5%08d", i*10+k))
		}
		harm := i%3 == 0
		events = append(events, testenv.Event("leeds/lea", "safeguarding.referral", child,
			map[string]any{"category": "neglect", "summary": "Referral " + strconv.Itoa(i), "significant_harm": harm}))
		social++
		if harm {
			police++
		}
	}
	return events, social, police
}

// checkExactlyOnce reads every delivery back from a fresh in-process view
// of the same store and checks counts and uniqueness.
func checkExactlyOnce(t *testing.T, addr string, want map[string]int) {
	t.Helper()
	env := &testenv.Env{T: t, Base: "http://" + addr}
	for participant, n := range want {
		seen := map[string]bool{}
		ds := env.Deliveries(participant)
		for _, d := range ds {
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
}

func waitDrained(t *testing.T, addr string, want map[string]int) {
	t.Helper()
	env := &testenv.Env{T: t, Base: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for p, n := range want {
			if len(env.Deliveries(p)) < n {
				done = false
			}
		}
		if done {
			time.Sleep(300 * time.Millisecond) // let any duplicate show itself
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The broker dies after storing deliveries but before writing state and
// acknowledging; after a restart nothing is lost and nothing is twice.
func TestCrashBetweenDeliveryAndAck(t *testing.T) {
	p := newProc(t)
	events, social, police := referrals(300)
	startProc(t, p, "ECM_FAILPOINT=after-deliveries:100")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); publishUntilAccepted(t, p.httpAddr, events) }()
	select {
	case err := <-p.exited:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 99 {
			t.Fatalf("broker exited with %v, want the failpoint's 99", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("failpoint never fired")
	}
	startProc(t, p)
	defer func() { _ = p.cmd.Process.Kill(); <-p.exited }()
	wg.Wait()
	want := map[string]int{"leeds/la-social-care": social, "leeds/police": police}
	waitDrained(t, p.httpAddr, want)
	checkExactlyOnce(t, p.httpAddr, want)
}

// publishOverNATS publishes events as an adapter does: over NATS as the
// participant, async with JetStream acks, each event republished until it is
// acknowledged, whatever happens to the broker meanwhile (its message id
// makes a republish harmless).
func publishOverNATS(t *testing.T, addr string, events []map[string]any) {
	pending := events
	for len(pending) > 0 {
		nc, err := nats.Connect("nats://"+addr, nats.UserInfo("leeds/lea", demo.Token("leeds/lea")), nats.MaxReconnects(0))
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
		var failed []map[string]any
		futures := make([]jetstream.PubAckFuture, 0, len(pending))
		sent := 0
		for _, ev := range pending {
			b, _ := json.Marshal(ev)
			m := nats.NewMsg(wire.IngestSubject("leeds/lea", ev["subject"].(string)))
			m.Header.Set("content-type", "application/cloudevents+json")
			m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID(ev["source"].(string), ev["id"].(string)))
			m.Data = b
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				break
			}
			futures = append(futures, f)
			sent++
		}
		// Wait for the acks together, for a bounded time: a broker killed
		// meanwhile leaves some futures unanswered, and those are resent.
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(15 * time.Second):
		}
		for i, f := range futures {
			select {
			case <-f.Ok():
			default:
				failed = append(failed, pending[i])
			}
		}
		failed = append(failed, pending[sent:]...)
		nc.Close()
		pending = failed
		if len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// kill -9 five times at random points while 20,000 events flow in over
// NATS; every restart resumes; afterwards each participant has exactly the
// deliveries the policy allows, none twice, and the audit is complete.
func TestKillNineWhileEventsFlow(t *testing.T) {
	p := newProc(t)
	n, kills := 20000, 5
	if testing.Short() {
		n, kills = 2000, 3
	}
	events, social, police := referrals(n)
	startProc(t, p)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); publishOverNATS(t, p.natsAdr, events) }()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(300+rng.Intn(1500)) * time.Millisecond)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		startProc(t, p)
	}
	defer func() { _ = p.cmd.Process.Kill(); <-p.exited }()
	wg.Wait()
	want := map[string]int{"leeds/la-social-care": social, "leeds/police": police}
	waitDrained(t, p.httpAddr, want)
	checkExactlyOnce(t, p.httpAddr, want)
	env := &testenv.Env{T: t, Base: "http://" + p.httpAddr}
	for i := 0; i < n; i += n / 40 { // the audit, for a sample of children
		if recs := env.Decisions(events[i]["subject"].(string)); len(recs) != 1 || recs[0].EventID != events[i]["id"] {
			t.Errorf("child %d: %d audit records", i, len(recs))
		}
	}
}
