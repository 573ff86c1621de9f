package push

import (
	"sync"
	"time"
)

// breakerState is a circuit breaker's state.
type breakerState int

const (
	closed   breakerState = iota // attempts go
	halfOpen                     // one attempt tests the endpoint
	open                         // no attempt until the cooldown ends
)

func (s breakerState) String() string {
	return [...]string{"closed", "half-open", "open"}[s]
}

// gauge is the value of ecm_push_breaker_state: 0 closed, 1 half-open, 2 open.
func (s breakerState) gauge() float64 { return float64(s) }

// breaker stops the attempts at one endpoint after push.breaker.failures
// failures in a row, for push.breaker.cooldown; then one attempt (of any
// participant served there) tests it: a success closes the breaker, a
// failure opens it again. The backoff already spaces one participant's
// attempts; the breaker matters when one engine serves many participants,
// which would otherwise each try it on their own schedule. It is kept in
// memory by each instance.
type breaker struct {
	failures int
	cooldown time.Duration

	mu        sync.Mutex
	state     breakerState
	inARow    int
	openUntil time.Time
	trial     bool // half-open: the one attempt is under way
}

func (p *Pusher) breaker(endpoint string) *breaker {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.breakers[endpoint]
	if !ok {
		b = &breaker{failures: p.cfg.Push.Breaker.Failures, cooldown: p.cfg.Push.Breaker.Cooldown}
		p.breakers[endpoint] = b
	}
	return b
}

// allow says whether an attempt may go now, and if not how long to wait
// before asking again.
func (b *breaker) allow(now time.Time) (ok bool, wait time.Duration, s breakerState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.state == closed:
		return true, 0, b.state
	case b.state == open && now.Before(b.openUntil):
		return false, b.openUntil.Sub(now), b.state
	case b.state == open || !b.trial: // the cooldown is over: this attempt is the test
		b.state, b.trial = halfOpen, true
		return true, 0, b.state
	default: // another participant's attempt is testing the endpoint
		return false, min(b.cooldown, time.Second), b.state
	}
}

// record notes an attempt's outcome and returns the state it leaves.
func (b *breaker) record(ok bool, now time.Time) breakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.state, b.inARow, b.trial = closed, 0, false
		return b.state
	}
	b.inARow++
	if b.state == halfOpen || b.inARow >= b.failures {
		b.state, b.trial, b.openUntil = open, false, now.Add(b.cooldown)
	}
	return b.state
}

// current is the state for a status page.
func (b *breaker) current(now time.Time) breakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == open && !now.Before(b.openUntil) {
		return halfOpen // the next attempt tests it
	}
	return b.state
}
