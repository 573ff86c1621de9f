package httpapi

import (
	"net/http"
	"testing"
	"time"
)

// Five failures pass, the sixth blocks for Refill; nothing refills during a
// block, so the first failure after it blocks again, twice as long, up to
// MaxBlock; a full bucket forgets the blocks.
func TestThrottleBackoff(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(Throttle{Burst: 5, Refill: 12 * time.Second, MaxBlock: time.Minute})
	th.now = func() time.Time { return now }
	const addr = "192.0.2.7"
	for i := range 5 {
		if d := th.fail(addr); d != 0 {
			t.Fatalf("failure %d blocked %s", i+1, d)
		}
	}
	for i, want := range []time.Duration{12 * time.Second, 24 * time.Second, 48 * time.Second, time.Minute, time.Minute} {
		if d := th.fail(addr); d != want {
			t.Fatalf("block %d: %s, want %s", i+1, d, want)
		}
		if w := th.wait(addr); w != want {
			t.Fatalf("block %d: wait %s, want %s", i+1, w, want)
		}
		if w := th.wait("192.0.2.8"); w != 0 {
			t.Fatalf("another address waits %s", w)
		}
		now = now.Add(want) // the block ends: the next failure (one guess) blocks again, twice as long
	}
	// Quiet until the bucket is full again: five more pass, then 12 s.
	now = now.Add(5 * 12 * time.Second)
	for i := range 5 {
		if d := th.fail(addr); d != 0 {
			t.Fatalf("after a quiet minute, failure %d blocked %s", i+1, d)
		}
	}
	if d := th.fail(addr); d != 12*time.Second {
		t.Fatalf("the blocks were not forgotten: %s", d)
	}
	// The sweep forgets addresses that are quiet.
	now = now.Add(time.Hour)
	th.fail("192.0.2.9")
	if _, ok := th.addrs[addr]; ok {
		t.Error("a quiet address is still kept")
	}
}

func TestClientAddrAndLoopback(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.7:5555":                "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":    "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:4:5:6]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":         "192.0.2.7",
	} {
		if got := clientAddr(&http.Request{RemoteAddr: remote}); got != want {
			t.Errorf("clientAddr(%s) = %s, want %s", remote, got, want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:0": true, "localhost:80": true, "127.1.2.3:0": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:0": false, "10.0.0.1:80": false, "broker-1:8080": false, "bad": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%s) = %v", addr, got)
		}
	}
}
