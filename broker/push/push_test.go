package push

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
)

// The example of the Standard Webhooks spec (and of the svix libraries'
// tests): the same secret, id, timestamp and body give the same signature.
func TestSignStandardWebhooksExample(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestBackoff(t *testing.T) {
	c := &config.Config{}
	c.Push.Backoff.Initial, c.Push.Backoff.Max = 5*time.Second, time.Hour
	p := &Pusher{cfg: c}
	tests := []struct {
		attempt int
		full    time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {10, 2560 * time.Second}, {11, time.Hour}, {80, time.Hour}}
	for _, tt := range tests {
		for range 50 {
			d := p.backoff(tt.attempt)
			if d > tt.full || d < tt.full/2 {
				t.Fatalf("backoff after attempt %d: %s, want between %s and %s", tt.attempt, d, tt.full/2, tt.full)
			}
		}
	}
}

func TestBreaker(t *testing.T) {
	b := &breaker{failures: 3, cooldown: time.Minute}
	now := time.Unix(1_000_000, 0)
	for i := 0; i < 2; i++ {
		if ok, _, _ := b.allow(now); !ok {
			t.Fatal("closed breaker held an attempt back")
		}
		if s := b.record(false, now); s != closed {
			t.Fatalf("after %d failures: %s", i+1, s)
		}
	}
	if s := b.record(false, now); s != open {
		t.Fatalf("after 3 failures in a row: %s", s)
	}
	if ok, wait, _ := b.allow(now.Add(10 * time.Second)); ok || wait != 50*time.Second {
		t.Fatalf("open breaker: ok %v, wait %s", ok, wait)
	}
	later := now.Add(time.Minute)
	if ok, _, s := b.allow(later); !ok || s != halfOpen {
		t.Fatalf("after the cooldown: ok %v, %s", ok, s)
	}
	if ok, _, _ := b.allow(later); ok {
		t.Fatal("a second attempt went while the first tests the endpoint")
	}
	if s := b.record(false, later); s != open {
		t.Fatalf("a failed test: %s", s)
	}
	again := later.Add(time.Minute)
	if ok, _, _ := b.allow(again); !ok {
		t.Fatal("no test after the second cooldown")
	}
	if s := b.record(true, again); s != closed {
		t.Fatalf("a successful test: %s", s)
	}
}
