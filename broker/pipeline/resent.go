package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// An event sent again is stored once. Within JetStream's duplicate window
// (config duplicates, 24h by default) the server drops the second copy by
// its message id; after the window it would store it, and the pipeline
// would decide, deliver and audit the event a second time: a second
// disclosure that never happened, a second entry in the child's history. So
// the child's record names every event applied to it (child.State.IDs), and
// an event already applied is recognised at the HTTP edge (answered as a
// duplicate, or 409 when the content differs, as within the window) and,
// for NATS, in the pipeline (the second copy is removed from the ingest
// stream, as the server would have dropped it; different content under the
// same id is dead-lettered as over HTTP).

// resendCheckAfter is how old an event's time must be before the HTTP edge
// looks for it in the child's record: an event first sent at its time (at
// most 5 minutes ahead, event.Validate) can only be sent again after the
// window once its time is older than the window.
func resendCheckAfter(c *config.Config) time.Duration {
	w := c.Duplicates
	if w <= 0 {
		w = 24 * time.Hour
	}
	return w - 5*time.Minute
}

// alreadyApplied answers an event the child's record says was applied
// before: a duplicate when its content is the stored one's, 409 when not.
// ok is false when the event is new (or the record cannot be read: the
// pipeline checks again).
func (b *Pipeline) alreadyApplied(ctx context.Context, publisher string, m *nats.Msg, ev *event.Event) (api.IngestResult, bool) {
	if time.Since(ev.Time) < resendCheckAfter(b.Config) {
		return api.IngestResult{}, false
	}
	st, _, err := b.Children.Get(ctx, b.Children.Key(ev.Subject))
	if err != nil {
		return api.IngestResult{}, false
	}
	first, ok := st.Sent(ev.Source, ev.ID)
	if !ok {
		return api.IngestResult{}, false
	}
	if same, err := b.sameAsStored(ctx, wire.StreamIngest, first, m); err == nil && !same {
		probs := []api.Problem{{Field: "id", Reason: fmt.Sprintf("was already used by %s for a different event", ev.Source)}}
		b.Reject(ctx, publisher, m, probs)
		return api.IngestResult{ID: ev.ID, Status: http.StatusConflict, Outcome: "conflict", Error: "duplicate id with different content", Problems: probs}, true
	}
	return api.IngestResult{ID: ev.ID, Status: http.StatusAccepted, Outcome: "duplicate"}, true
}

// resent handles an ingest message (seq) whose event the child's record
// says was applied from ingest sequence first.
func (b *Pipeline) resent(ctx context.Context, p *pass, m *nats.Msg, ev *event.Event, publisher string, seq, first uint64) error {
	same, err := b.sameAsStored(ctx, wire.StreamIngest, first, m)
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("reading the event stored first: %w", err)
	}
	// Not found: the first copy was removed by retention; the event was
	// decided when it came, and is not decided again.
	if err == nil && !same {
		probs := []api.Problem{{Field: "id", Reason: fmt.Sprintf("was already used by %s for a different event", ev.Source)}}
		fs, err := b.deadLetterAsync(publisher, m, probs, fmt.Sprintf("ingest-%d", seq))
		if err != nil {
			return err
		}
		p.futures = append(p.futures, fs...)
	}
	b.Log.Info("event sent again after the duplicate window: the copy is removed, nothing is decided again",
		zap.String("publisher", publisher), zap.String("event_id", ev.ID), zap.Uint64("seq", seq), zap.Uint64("first_seq", first), zap.Bool("conflict", err == nil && !same))
	p.resent = append(p.resent, seq)
	return nil
}

// dropResent removes the second copies once their dead letters (if any)
// are stored.
func (b *Pipeline) dropResent(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	s, err := b.JS.Stream(ctx, wire.StreamIngest)
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		if err := s.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("removing the copy of an event sent again (ingest %d): %w", seq, err)
		}
	}
	return nil
}
