package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"gopkg.in/yaml.v3"
)

// The participant whose copies are pushed in these tests.
const pushed = "leeds/la-social-care"

// pushKey is the webhook's signing key; pushSecret its Standard Webhooks form.
var (
	pushKey    = []byte("0123456789abcdef0123456789abcdef")
	pushSecret = "whsec_" + base64.StdEncoding.EncodeToString(pushKey)
)

// webhookReceiver is a participant's endpoint as its IT team would write
// it: the Standard Webhooks signature checked from the spec (not with the
// broker's code), timestamps more than five minutes off refused, each
// webhook-id processed once, and the CloudEvent read by the CloudEvents
// SDK's HTTP receiver. fail decides, per request, to answer an error
// status or to stall.
type webhookReceiver struct {
	t   *testing.T
	srv *httptest.Server
	sdk http.Handler

	mu        sync.Mutex
	fail      func(n int) (status int, stall time.Duration) // n counts requests from 1; status 0: accept
	late      func(n int) time.Duration                     // accepted, processed, then answered this late
	requests  int
	badSig    int
	ids       []string       // webhook-ids of every request, in order
	accepted  map[string]int // webhook-id → times processed (must stay 1)
	duplicate int            // requests dropped as already processed
	events    []string       // CloudEvent ids processed, in order
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{t: t, accepted: map[string]int{}}
	p, err := cehttp.New()
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, func(e cloudevents.Event) {
		r.mu.Lock()
		r.events = append(r.events, e.ID())
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sdk = sdk
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve)) // 127.0.0.1
	t.Cleanup(r.srv.Close)
	return r
}

// verifyWebhook checks a request per the Standard Webhooks spec: the
// signed content is "id.timestamp.body", the HMAC-SHA256 key is the secret
// after "whsec_" base64-decoded, the header holds space-separated
// "v1,<base64>" signatures of which one must match, and a timestamp more
// than tolerance from now is refused (replay protection).
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s is %s from now", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && v == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature matches")
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := verifyWebhook(pushSecret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.mu.Lock()
		r.badSig++
		r.mu.Unlock()
		r.t.Errorf("receiver: refused a request: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.requests++
	r.ids = append(r.ids, id)
	n, fail, late := r.requests, r.fail, r.late
	r.mu.Unlock()
	if fail != nil {
		status, stall := fail(n)
		time.Sleep(stall)
		if status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	r.mu.Lock()
	seen := r.accepted[id] > 0
	if seen {
		r.duplicate++
	} else {
		r.accepted[id]++
	}
	r.mu.Unlock()
	if seen { // already processed: acknowledge, do nothing
		w.WriteHeader(http.StatusOK)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	r.sdk.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		r.t.Errorf("receiver: the CloudEvents SDK refused the body (%d): %s", rec.Code, body)
	}
	if late != nil {
		time.Sleep(late(n))
	}
	w.WriteHeader(rec.Code)
}

func (r *webhookReceiver) setFail(f func(n int) (int, time.Duration)) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *webhookReceiver) snapshot() (accepted map[string]int, events, ids []string, duplicate, requests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted = map[string]int{}
	for k, v := range r.accepted {
		accepted[k] = v
	}
	return accepted, append([]string(nil), r.events...), append([]string(nil), r.ids...), r.duplicate, r.requests
}

// waitEvents waits until the receiver has processed n CloudEvents.
func (r *webhookReceiver) waitEvents(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, events, _, _, requests := r.snapshot()
		if len(events) >= n {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver processed %d of %d copies in %s (%d requests)", len(events), n, within, requests)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pushConfig is the demo configuration with leeds/la-social-care pushed to
// url, and short timings.
func pushConfig(url string, set func(*config.PushSettings)) *config.Config {
	c := demo.Config()
	for i := range c.Participants {
		if c.Participants[i].ID == pushed {
			c.Participants[i].Push = &config.Push{URL: url, Secret: pushSecret}
		}
	}
	c.Push.Timeout = 2 * time.Second
	c.Push.Backoff.Initial, c.Push.Backoff.Max = 50*time.Millisecond, 200*time.Millisecond
	c.Push.Breaker.Failures, c.Push.Breaker.Cooldown = 100, 100*time.Millisecond
	if set != nil {
		set(&c.Push)
	}
	return c
}

func startPush(t *testing.T, dir string, c *config.Config) *testenv.Env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return testenv.StartWith(t, broker.Options{Config: c, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
}

// publishForPush registers Amy and has her health visitor named n times:
// every event reaches children's social care. It returns the CloudEvent ids
// of the copies pushed's consumer holds, in the order they were stored.
func publishForPush(t *testing.T, env *testenv.Env, n int) []string {
	t.Helper()
	amy := demo.Children["Amy (4)"]
	env.MustPublish("leeds/pct", testenv.Event("leeds/pct", "index.child.registered", amy, map[string]any{
		"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2022-03-14", "gender": "female",
		"address": map[string]any{"lines": []any{"1 Park Row", "Leeds"}, "postcode": "LS1 5HD"}, "area": "leeds"}))
	for i := 0; i < n; i++ {
		env.MustPublish("leeds/pct", testenv.Event("leeds/pct", "index.practitioner.involved", amy, map[string]any{
			"practitioner": map[string]any{"name": fmt.Sprintf("Visitor %d", i), "role": "health visitor",
				"contact": map[string]any{"phone": "0113 496 0001"}}, "service": "health visiting"}))
	}
	env.WaitIdle()
	var ids []string
	for _, d := range env.Deliveries(pushed) {
		ids = append(ids, d.Event["id"].(string))
	}
	if len(ids) < n {
		t.Fatalf("%s holds %d copies, want at least %d", pushed, len(ids), n)
	}
	return ids
}

func pushStatus(t *testing.T, env *testenv.Env) api.PushParticipant {
	t.Helper()
	r := env.Do("GET", "/v1/push", demo.OperatorToken, "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("GET /v1/push: %d %s", r.Code, r.Body)
	}
	var st api.PushStatus
	r.JSON(t, &st)
	if len(st.Participants) != 1 || st.Participants[0].Participant != pushed {
		t.Fatalf("GET /v1/push: %s", r.Body)
	}
	return st.Participants[0]
}

// pushMetric reads ecm_push_attempts_total for pushed and outcome.
func pushMetric(t *testing.T, env *testenv.Env, name, outcome string) float64 {
	t.Helper()
	r := env.Do("GET", "/metrics", demo.OperatorToken, "", nil)
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, `participant="`+pushed+`"`) &&
			(outcome == "" || strings.Contains(line, `outcome="`+outcome+`"`)) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return 0
}

func sameOrder(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the receiver processed\n  %v\nwant, in the order stored,\n  %v", got, want)
	}
}

// Every copy reaches the webhook once, signed, in the order stored, and
// the status and metrics say so.
func TestPushDeliversSignedCopiesInOrder(t *testing.T) {
	rcv := newWebhookReceiver(t)
	env := startPush(t, "", pushConfig(rcv.srv.URL+"/ecm", nil))
	want := publishForPush(t, env, 5)
	got := rcv.waitEvents(t, len(want), 30*time.Second)
	sameOrder(t, got, want)
	accepted, _, ids, dup, requests := rcv.snapshot()
	if requests != len(want) || dup != 0 || len(accepted) != len(want) {
		t.Errorf("%d requests, %d duplicates, %d webhook-ids for %d copies", requests, dup, len(accepted), len(want))
	}
	if !strings.HasPrefix(ids[0], "msg_") {
		t.Errorf("webhook-id %q", ids[0])
	}
	if n := pushMetric(t, env, "ecm_push_attempts_total", "delivered"); n != float64(len(want)) {
		t.Errorf("ecm_push_attempts_total delivered = %v, want %d", n, len(want))
	}
	waitFor(t, func() bool { s := pushStatus(t, env); return s.Pending == 0 }, "nothing pending")
	if s := pushStatus(t, env); s.Breaker != "closed" || s.Failures != 0 || s.DeadLettered != 0 || s.Endpoint != rcv.srv.URL+"/ecm" {
		t.Errorf("status %+v", s)
	}
	// The receiver's check is a real one: a body changed after signing, or
	// a signature six minutes old, is refused.
	h := http.Header{"Webhook-Id": {"msg_x"}, "Webhook-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}}
	mac := hmac.New(sha256.New, pushKey)
	fmt.Fprintf(mac, "msg_x.%s.{}", h.Get("webhook-timestamp"))
	h.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	if verifyWebhook(pushSecret, h, []byte("{}"), time.Now(), 5*time.Minute) != nil ||
		verifyWebhook(pushSecret, h, []byte(`{"a":1}`), time.Now(), 5*time.Minute) == nil ||
		verifyWebhook(pushSecret, h, []byte("{}"), time.Now().Add(6*time.Minute), 5*time.Minute) == nil {
		t.Errorf("the receiver's signature check does not tell good from bad")
	}
}

// A receiver that answers 500 three times, then recovers, gets each copy
// processed once; the failed attempts carried the same webhook-id as the
// one that succeeded.
func TestPushRetriesAfterFailures(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.setFail(func(n int) (int, time.Duration) {
		if n <= 3 {
			return http.StatusInternalServerError, 0
		}
		return 0, 0
	})
	env := startPush(t, "", pushConfig(rcv.srv.URL, nil))
	want := publishForPush(t, env, 3)
	sameOrder(t, rcv.waitEvents(t, len(want), 30*time.Second), want)
	accepted, _, ids, dup, requests := rcv.snapshot()
	if requests != len(want)+3 || dup != 0 {
		t.Errorf("%d requests (%d duplicates) for %d copies and 3 failures", requests, dup, len(want))
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[2] != ids[3] || accepted[ids[0]] != 1 {
		t.Errorf("the retries of the first copy came with webhook-ids %v", ids[:4])
	}
	if n := pushMetric(t, env, "ecm_push_attempts_total", "http_error"); n != 3 {
		t.Errorf("ecm_push_attempts_total http_error = %v, want 3", n)
	}
}

// A receiver that stalls past push.timeout is tried again with the same
// webhook-id; the stalled request, processed late, and its retry are one
// copy to a receiver that drops what it has seen.
func TestPushTimeoutRetriedSameID(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.setFail(func(n int) (int, time.Duration) {
		if n == 1 {
			return 0, 1500 * time.Millisecond // processed, but after the broker stopped waiting
		}
		return 0, 0
	})
	env := startPush(t, "", pushConfig(rcv.srv.URL, func(s *config.PushSettings) { s.Timeout = 300 * time.Millisecond }))
	want := publishForPush(t, env, 2)
	sameOrder(t, rcv.waitEvents(t, len(want), 30*time.Second), want)
	waitFor(t, func() bool { s := pushStatus(t, env); return s.Pending == 0 }, "nothing pending")
	// The stalled request ends after its retry was processed: dropped then.
	waitFor(t, func() bool { _, _, _, dup, _ := rcv.snapshot(); return dup == 1 }, "the stalled request to end as a duplicate")
	accepted, _, ids, dup, _ := rcv.snapshot()
	if len(accepted) != len(want) || dup != 1 || ids[0] != ids[1] {
		t.Errorf("webhook-ids %v, %d duplicates dropped, %d processed for %d copies", ids, dup, len(accepted), len(want))
	}
	if n := pushMetric(t, env, "ecm_push_attempts_total", "timeout"); n < 1 {
		t.Errorf("ecm_push_attempts_total timeout = %v, want at least 1", n)
	}
}

// After push.give_up_after the copies go to the dead letters with every
// attempt; ecmctl's POST /v1/push/retry re-queues them and they are
// delivered, under the webhook-ids they failed with.
func TestPushGiveUpThenRetry(t *testing.T) {
	rcv := newWebhookReceiver(t)
	down := func(int) (int, time.Duration) { return http.StatusServiceUnavailable, 0 }
	rcv.setFail(down)
	env := startPush(t, "", pushConfig(rcv.srv.URL, func(s *config.PushSettings) { s.GiveUpAfter = 500 * time.Millisecond }))
	want := publishForPush(t, env, 2)
	waitFor(t, func() bool { s := pushStatus(t, env); return s.DeadLettered == len(want) && s.Pending == 0 }, "every copy dead-lettered")
	_, _, failedIDs, _, _ := rcv.snapshot()
	var mine []api.DeadLetter
	for _, dl := range env.DeadLetters() {
		if len(dl.Reasons) > 0 && strings.HasPrefix(dl.Reasons[0], "gave up pushing") {
			mine = append(mine, dl)
		}
	}
	if len(mine) != len(want) {
		t.Fatalf("%d push dead letters, want %d", len(mine), len(want))
	}
	for _, dl := range mine {
		if len(dl.Reasons) < 2 || !strings.Contains(dl.Reasons[1], "attempt 1 at ") || !strings.Contains(dl.Reasons[1], "503") {
			t.Errorf("dead letter reasons %q", dl.Reasons)
		}
	}
	if n := pushMetric(t, env, "ecm_push_dead_lettered_total", ""); n != float64(len(want)) {
		t.Errorf("ecm_push_dead_lettered_total = %v", n)
	}
	// No webhook: nothing to retry, said so.
	if r := env.Do("POST", "/v1/push/retry", demo.OperatorToken, "application/json", []byte(`{"participant":"leeds/lea"}`)); r.Code != http.StatusNotFound {
		t.Errorf("retry for a participant without a webhook: %d %s", r.Code, r.Body)
	}
	// As an operator would: ecmctl push status, then push retry.
	ecmctl := buildEcmctl(t, env)
	out := ecmctl("push", "status")
	for _, w := range []string{pushed, rcv.srv.URL, "DEAD-LETTERED", "closed"} {
		if !strings.Contains(out, w) {
			t.Errorf("push status lacks %q:\n%s", w, out)
		}
	}
	// The operations overview (and the console's page) says the same.
	var ops api.Operations
	env.Do("GET", "/v1/operations", demo.OperatorToken, "", nil).JSON(t, &ops)
	var overview string
	for _, p := range ops.Participants {
		if p.Participant == pushed {
			overview = p.Push
		}
	}
	if !strings.HasPrefix(overview, "pushing: 0 pending, breaker ") || !strings.HasSuffix(overview, fmt.Sprintf("%d given up (ecmctl push retry)", len(want))) {
		t.Errorf("overview says %q", overview)
	}
	rcv.setFail(nil)
	out = ecmctl("push", "retry", "--participant", pushed)
	if !strings.Contains(out, fmt.Sprintf("Re-queued %d copies for %s", len(want), pushed)) {
		t.Fatalf("push retry:\n%s", out)
	}
	sameOrder(t, rcv.waitEvents(t, len(want), 30*time.Second), want)
	accepted, _, _, dup, _ := rcv.snapshot()
	for id := range accepted {
		if !strings.Contains(strings.Join(failedIDs, " "), id) {
			t.Errorf("re-queued copy came with a new webhook-id %s (failed with %v)", id, failedIDs)
		}
	}
	if len(accepted) != len(want) || dup != 0 {
		t.Errorf("%d copies processed, %d duplicates", len(accepted), dup)
	}
	// A second retry finds nothing left to re-queue.
	r := env.Do("POST", "/v1/push/retry", demo.OperatorToken, "application/json", []byte(`{"participant":"`+pushed+`"}`))
	var res api.PushRetryResult
	r.JSON(t, &res)
	if r.Code != http.StatusOK || res.Requeued != 0 {
		t.Errorf("second retry: %d %s", r.Code, r.Body)
	}
	if s := pushStatus(t, env); s.DeadLettered != 0 {
		t.Errorf("status after retry %+v", s)
	}
	// Both retries are in the audit, with who and how many.
	var retries []int
	err := store.Scan(context.Background(), env.Broker.JetStream(), wire.StreamAudit, store.ScanOpts{Filter: []string{wire.AuditSubject("_ops")}},
		func(m store.Msg) error {
			var rec api.AuditRecord
			if json.Unmarshal(m.Data, &rec) == nil && rec.Action != nil && rec.Action.Kind == "push-retry" &&
				rec.Action.By == "ops" && rec.Action.Participant == pushed {
				retries = append(retries, rec.Action.Counts["requeued"])
			}
			return nil
		})
	if err != nil || len(retries) != 2 || retries[0] != len(want) || retries[1] != 0 {
		t.Errorf("audited push retries %v (%v), want [%d 0]", retries, err, len(want))
	}
}

// After push.breaker.failures failures in a row the endpoint's breaker
// opens: no attempt during the cooldown, then one to test it.
func TestPushBreakerOpens(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.setFail(func(int) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
	env := startPush(t, "", pushConfig(rcv.srv.URL, func(s *config.PushSettings) {
		s.Breaker.Failures, s.Breaker.Cooldown = 2, 1500*time.Millisecond
	}))
	publishForPush(t, env, 1)
	waitFor(t, func() bool { return pushStatus(t, env).Breaker == "open" }, "the breaker to open")
	_, _, _, _, atOpen := rcv.snapshot()
	time.Sleep(700 * time.Millisecond) // well inside the cooldown; backoff alone would have tried again
	if _, _, _, _, n := rcv.snapshot(); n != atOpen || atOpen != 2 {
		t.Fatalf("%d requests when the breaker opened, %d during the cooldown", atOpen, n-atOpen)
	}
	if n := pushMetric(t, env, "ecm_push_held_back_total", ""); n < 1 {
		t.Errorf("ecm_push_held_back_total = %v", n)
	}
	rcv.setFail(nil)
	got := rcv.waitEvents(t, 1, 30*time.Second)
	waitFor(t, func() bool { return pushStatus(t, env).Breaker == "closed" }, "the breaker to close")
	if len(got) < 1 {
		t.Fatal("nothing delivered")
	}
}

// The broker stops while it is retrying and starts again on the same store:
// the attempts carry on where they were (the failures keep counting), and
// every copy reaches the receiver, none twice.
func TestPushRestartMidRetry(t *testing.T) {
	rcv := newWebhookReceiver(t)
	failing := true
	var mu sync.Mutex
	rcv.setFail(func(n int) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if failing && n > 2 { // two copies through, then down
			return http.StatusBadGateway, 0
		}
		return 0, 0
	})
	dir := t.TempDir()
	c := pushConfig(rcv.srv.URL, nil)
	env := startPush(t, dir, c)
	want := publishForPush(t, env, 6)
	rcv.waitEvents(t, 2, 30*time.Second)
	waitFor(t, func() bool { _, _, _, _, n := rcv.snapshot(); return n >= 5 }, "failed attempts under way")
	waitFor(t, func() bool { s := pushStatus(t, env); return s.Failures > 0 && strings.Contains(s.LastFailure, "502") }, "the status to show the failures")
	before := pushStatus(t, env).Failures
	env.Broker.Close()
	_, _, _, _, atClose := rcv.snapshot()
	env = startPush(t, dir, c)
	waitFor(t, func() bool { _, _, _, _, n := rcv.snapshot(); return n >= atClose+3 }, "three failed attempts after the restart")
	if after := pushStatus(t, env).Failures; after < before+2 {
		t.Errorf("%d failures before the restart, %d after three more attempts: the attempts started again", before, after)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	sameOrder(t, rcv.waitEvents(t, len(want), 60*time.Second), want)
	waitFor(t, func() bool { s := pushStatus(t, env); return s.Pending == 0 }, "nothing pending")
	accepted, _, _, dup, _ := rcv.snapshot()
	if len(accepted) != len(want) {
		t.Errorf("%d distinct webhook-ids processed for %d copies", len(accepted), len(want))
	}
	if dup != 0 {
		t.Errorf("%d copies came twice across the restart (dropped by webhook-id)", dup)
	}
}

// buildEcmctl builds ecmctl and returns a runner with the operator's token.
func buildEcmctl(t *testing.T, env *testenv.Env) func(args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ecmctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/ecmctl").CombinedOutput(); err != nil {
		t.Fatalf("building ecmctl: %v\n%s", err, out)
	}
	return func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--server", env.Base, "--token", demo.OperatorToken}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ecmctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// The broker is killed (SIGKILL) after the receiver processed a copy and
// before its 2xx reached the broker. After the restart that copy comes again
// with the same webhook-id, and the receiver drops it; the copies delivered
// before do not come again, although the embedded server forgot their
// acknowledgements in the crash (it writes them to disk in the background):
// the broker's own record of what it delivered says so (docs/push.md).
func TestPushKilledBeforeTheAnswer(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.late = func(n int) time.Duration {
		if n == 3 {
			return 3 * time.Second
		}
		return 0
	}
	c := pushConfig(rcv.srv.URL, func(s *config.PushSettings) { s.Timeout = 10 * time.Second })
	p := newProc(t)
	cfg, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.conf, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, p)
	env := &testenv.Env{T: t, Base: "http://" + p.httpAddr}
	amy := demo.Children["Amy (4)"]
	env.MustPublish("leeds/pct", testenv.Event("leeds/pct", "index.child.registered", amy, map[string]any{
		"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2022-03-14", "gender": "female",
		"address": map[string]any{"lines": []any{"1 Park Row", "Leeds"}, "postcode": "LS1 5HD"}, "area": "leeds"}))
	for i := 0; i < 4; i++ {
		env.MustPublish("leeds/pct", testenv.Event("leeds/pct", "index.practitioner.involved", amy, map[string]any{
			"practitioner": map[string]any{"name": fmt.Sprintf("Visitor %d", i), "role": "health visitor",
				"contact": map[string]any{"phone": "0113 496 0001"}}, "service": "health visiting"}))
	}
	rcv.waitEvents(t, 3, 30*time.Second) // the third processed, its answer held back
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	startProc(t, p)
	defer func() { _ = p.cmd.Process.Kill(); <-p.exited }()
	var want []string
	waitFor(t, func() bool {
		want = want[:0]
		for _, d := range env.Deliveries(pushed) {
			want = append(want, d.Event["id"].(string))
		}
		return len(want) == 5
	}, "the five copies stored")
	sameOrder(t, rcv.waitEvents(t, len(want), 60*time.Second), want)
	waitFor(t, func() bool { _, _, _, dup, _ := rcv.snapshot(); return dup >= 1 }, "the third copy to come again and be dropped")
	time.Sleep(300 * time.Millisecond) // let any further repeat show itself
	accepted, _, ids, dup, requests := rcv.snapshot()
	if len(accepted) != len(want) || requests != len(want)+dup || dup != 1 {
		t.Errorf("%d distinct webhook-ids processed for %d copies, %d requests, %d dropped as repeats: %v", len(accepted), len(want), requests, dup, ids)
	}
	third, again := ids[2], 0
	for _, id := range ids[3:] {
		if id == third {
			again++
		}
	}
	if again != 1 {
		t.Errorf("the copy whose answer the crash cut off came %d more times, want 1: %v", again, ids)
	}
	t.Logf("%d requests for %d copies: %d repeats dropped by webhook-id", requests, len(want), dup)
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
