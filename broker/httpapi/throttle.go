package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Throttle limits failed authentications per client address: a bucket of
// Burst failures, refilled one every Refill (by default 5, one every 12 s:
// five a minute). A failure that finds the bucket empty blocks the address
// for Refill, doubled at each block in a row (12 s, 24 s, 48 s ...) up to
// MaxBlock. Nothing refills during a block, so a guesser gets one guess
// after each block, each block twice as long; the count of blocks is
// forgotten once the bucket is full again (Burst × Refill without a
// failure).
// While blocked, every authenticated route answers the address 429 with
// Retry-After without looking at its token, so a guess cannot succeed then.
// A valid token does not reset the count: an agency that holds one token
// cannot use it to keep guessing an operator's.
//
// The address is the TCP peer's (IPv6: its /64), never X-Forwarded-For: a
// proxy in front of the broker makes all its clients one address here, and
// should throttle itself.
type Throttle struct {
	Burst    int
	Refill   time.Duration
	MaxBlock time.Duration
}

func (t Throttle) withDefaults() Throttle {
	if t.Burst <= 0 {
		t.Burst = 5
	}
	if t.Refill <= 0 {
		t.Refill = 12 * time.Second
	}
	if t.MaxBlock <= 0 {
		t.MaxBlock = 15 * time.Minute
	}
	return t
}

// throttle keeps the failures of each address that failed lately.
type throttle struct {
	o         Throttle
	now       func() time.Time
	mu        sync.Mutex
	addrs     map[string]*failures
	lastSweep time.Time
}

type failures struct {
	tokens  float64 // failures still allowed
	at      time.Time
	until   time.Time // blocked until
	strikes int       // blocks in a row
}

func newThrottle(o Throttle) *throttle {
	return &throttle{o: o.withDefaults(), now: time.Now, addrs: map[string]*failures{}}
}

// refill brings f's bucket up to now. Nothing refills while an address is
// blocked (f.at is the block's end), so that a long block is not followed
// by as many guesses as it lasted.
func (t *throttle) refill(f *failures, now time.Time) {
	if !now.After(f.at) {
		return
	}
	f.tokens += float64(now.Sub(f.at)) / float64(t.o.Refill)
	if f.tokens >= float64(t.o.Burst) {
		f.tokens = float64(t.o.Burst)
		f.strikes = 0
	}
	f.at = now
}

// wait is how long addr is still blocked (0: not).
func (t *throttle) wait(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	if f == nil {
		return 0
	}
	return max(0, f.until.Sub(t.now()))
}

// fail counts a failed authentication from addr and returns how long the
// address is now blocked (0: not).
func (t *throttle) fail(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	f := t.addrs[addr]
	if f == nil {
		f = &failures{tokens: float64(t.o.Burst), at: now}
		t.addrs[addr] = f
	}
	t.refill(f, now)
	if f.tokens >= 1 {
		f.tokens--
		return 0
	}
	block := t.o.Refill << min(f.strikes, 20)
	block = min(block, t.o.MaxBlock)
	f.strikes++
	f.until = now.Add(block)
	f.tokens, f.at = 0, f.until
	return block
}

// sweep forgets, once a minute, the addresses whose bucket is full and that
// are not blocked, so the map holds only recent failures.
func (t *throttle) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < time.Minute {
		return
	}
	t.lastSweep = now
	for a, f := range t.addrs {
		t.refill(f, now)
		if f.tokens >= float64(t.o.Burst) && !now.Before(f.until) {
			delete(t.addrs, a)
		}
	}
}

// clientAddr is the address failures are counted against: the peer's IP,
// an IPv6 address's /64 (one host's addresses).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
