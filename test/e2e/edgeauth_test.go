package e2e

// Authentication at the HTTP edge (broker/httpapi/auth.go, throttle.go,
// broker/config/tokens.go): failed tokens throttled per address, logged
// without the token and counted; the scheme read case-insensitively; weak
// tokens refused at start; tokens kept as hashes; NATS passwords apart from
// HTTP tokens.

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/httpapi"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A flood of wrong tokens from one address: a handful answered 401, then
// 429 with Retry-After for every token, the right one included, until the
// wait is over; each failure logged without the token, and counted.
func TestEdgeAuthFloodThrottled(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	const refill = time.Second
	env := testenv.StartWith(t, broker.Options{Logger: zap.New(core), MetricsAddr: "127.0.0.1:0",
		HTTPLimits: httpapi.Limits{AuthFailures: httpapi.Throttle{Burst: 5, Refill: refill}}})
	const guess = "guessing-the-operator-token-0001"
	codes := map[int]int{}
	var retryAfter string
	for i := range 40 {
		req, _ := http.NewRequest("GET", env.Base+"/v1/audit?child="+amy, nil)
		req.Header.Set("Authorization", "Bearer "+guess+strconv.Itoa(i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 35 {
		t.Errorf("answers %v, want 5 × 401 then 35 × 429", codes)
	}
	if secs, err := strconv.Atoi(retryAfter); err != nil || secs < 1 {
		t.Errorf("Retry-After %q", retryAfter)
	}
	// Blocked: the right token too, so that a guess cannot be told apart.
	if r := env.Do("GET", "/v1/audit?child="+amy, demo.OperatorToken, "", nil); r.Code != http.StatusTooManyRequests {
		t.Errorf("the right token while blocked: %d, want 429", r.Code)
	}
	// Logged, never the token.
	failures := logs.FilterMessageSnippet("authentication failed").All()
	if len(failures) != 6 { // 5 refused, 1 that began the block
		t.Errorf("%d failures logged, want 6", len(failures))
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, guess) {
				t.Errorf("log %q field %s holds the token", e.Message, k)
			}
		}
	}
	if len(failures) > 0 {
		if f := failures[0].ContextMap(); f["client"] != "127.0.0.1" || f["path"] != "/v1/audit" {
			t.Errorf("failure logged as %v", f)
		}
	}
	// Counted: 6 tokens naming nobody; 36 answers 429 (35 of the flood, the right token).
	resp, err := http.Get("http://" + env.Broker.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ecm_http_auth_failures_total{outcome="refused"} 6`, `ecm_http_auth_failures_total{outcome="throttled"} 36`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// After the wait the right token works again.
	time.Sleep(refill + 200*time.Millisecond)
	if r := env.Do("GET", "/v1/audit?child="+amy, demo.OperatorToken, "", nil); r.Code != http.StatusOK {
		t.Errorf("the right token after the wait: %d %s", r.Code, r.Body)
	}
	// A missing token guesses nothing: not throttled.
	for range 10 {
		if r := env.Do("GET", "/v1/deliveries", "", "", nil); r.Code != http.StatusUnauthorized {
			t.Fatalf("no token: %d, want 401", r.Code)
		}
	}
}

// RFC 9110: the scheme is case-insensitive.
func TestEdgeAuthLowerCaseBearer(t *testing.T) {
	env := testenv.Start(t, "")
	for _, scheme := range []string{"bearer", "BEARER", "Bearer", "bEaReR"} {
		r := env.Do("GET", "/v1/deliveries", "", "", nil, "Authorization", scheme+" "+demo.Token("leeds/pct"))
		if r.Code != http.StatusOK {
			t.Errorf("%s: %d %s", scheme, r.Code, r.Body)
		}
	}
	for _, h := range []string{"Basic " + demo.Token("leeds/pct"), demo.Token("leeds/pct"), "Bearer"} {
		if r := env.Do("GET", "/v1/deliveries", "", "", nil, "Authorization", h); r.Code != http.StatusUnauthorized {
			t.Errorf("%q: %d, want 401", h, r.Code)
		}
	}
}

// A configuration with a weak token does not start, and says which.
func TestEdgeAuthWeakTokenRefusesToStart(t *testing.T) {
	cfg := demo.Config()
	cfg.Participants[3].Token = "aaaaaaaaaaaaaaaa"
	_, err := broker.New(t.Context(), broker.Options{Config: cfg, Policies: policies.FS, HTTPAddr: "127.0.0.1:0",
		Embedded: natsauth.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir()}})
	if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "participants[3].token") {
		t.Errorf("weak token: %v, want a refusal naming participants[3].token", err)
	}
}

// Tokens kept as their hash work as the tokens; the NATS password is a
// secret of its own: the HTTP token does not log in to NATS, and the NATS
// password is not an HTTP token.
func TestEdgeAuthHashedTokensAndNATSPassword(t *testing.T) {
	cfg := demo.Config()
	const natsPW = "leeds-pct-nats-only-Wq7zK2"
	for i, p := range cfg.Participants {
		if p.ID == "leeds/pct" {
			cfg.Participants[i].TokenHash, cfg.Participants[i].Token = config.HashToken(p.Token), ""
			cfg.Participants[i].NATSPassword = natsPW
		}
	}
	cfg.Operators[0].TokenHash, cfg.Operators[0].Token = config.HashToken(demo.OperatorToken), ""
	env := testenv.StartWith(t, broker.Options{Config: cfg, Embedded: natsauth.EmbeddedOptions{Isolation: true}})
	if r := env.Do("GET", "/v1/deliveries", demo.Token("leeds/pct"), "", nil); r.Code != http.StatusOK {
		t.Errorf("a hashed participant token: %d %s", r.Code, r.Body)
	}
	if r := env.Do("GET", "/v1/audit?child="+amy, demo.OperatorToken, "", nil); r.Code != http.StatusOK {
		t.Errorf("a hashed operator token: %d %s", r.Code, r.Body)
	}
	if r := env.Do("GET", "/v1/deliveries", natsPW, "", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("the NATS password as an HTTP token: %d, want 401", r.Code)
	}
	url := env.Broker.NATSURL()
	if nc, err := nats.Connect(url, nats.UserInfo("leeds/pct", natsPW), nats.MaxReconnects(0)); err != nil {
		t.Errorf("NATS with nats_password: %v", err)
	} else {
		nc.Close()
	}
	if nc, err := nats.Connect(url, nats.UserInfo("leeds/pct", demo.Token("leeds/pct")), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("NATS with the HTTP token: connected")
	}
}
