package run

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Publisher stores events in the broker. The runner calls Publish with one
// batch at a time, in export order, and acknowledges the batch's records to
// their source only after Publish has returned.
type Publisher interface {
	// Publish returns nil when every event is durably stored; a
	// *RejectedError when the broker refused some for good and stored the
	// others; or, when it gives up, ctx's error or ErrUnauthorized. While
	// the broker is unreachable or busy it retries with backoff. An event
	// may be sent more than once: the broker stores each (source, id) once.
	Publish(ctx context.Context, events []event.Event) error
	// Close ends the connection to the broker.
	Close() error
}

// Backoff is the wait between attempts to reach the broker: Initial, then
// doubling up to Max, each with up to a fifth of random jitter so that many
// adapters restarting together do not retry in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff starts at 250ms and settles at 30s.
var DefaultBackoff = Backoff{Initial: 250 * time.Millisecond, Max: 30 * time.Second}

func (b Backoff) orDefault() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = max(b.Initial, DefaultBackoff.Max)
	}
	return b
}

// Delay is the wait before retry number attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.orDefault()
	d := b.Initial
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// wait sleeps before retry number attempt, or returns ctx's error.
func (b Backoff) wait(ctx context.Context, attempt int) error {
	return sleep(ctx, b.Delay(attempt))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
