package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
)

// NATSOptions configure the JetStream publisher.
type NATSOptions struct {
	// URL is the NATS server (or comma-separated servers).
	URL string
	// Options carry credentials and TLS (nats.UserCredentials, ...).
	Options []nats.Option
	// MaxPending bounds the publishes awaiting their ack; default 4096.
	MaxPending int
	// AckTimeout is how long one publish waits for its ack before it is
	// sent again; default 10s.
	AckTimeout time.Duration
	// ReconnectWait is the pause between attempts to reach the server;
	// default 1s.
	ReconnectWait time.Duration
	Backoff       Backoff
	Logger        *zap.Logger
}

// natsPublisher publishes in binary mode to the ingest subject with
// Nats-Msg-Id set, so that the stream stores each event once however often it
// is sent. Events are published asynchronously and their acks awaited
// together: one round trip per batch rather than per event.
type natsPublisher struct {
	nc         *nats.Conn
	js         jetstream.Publisher
	subject    string
	ackTimeout time.Duration
	backoff    Backoff
	log        *zap.Logger
}

// NewNATSPublisher connects to NATS. A server that is not up yet is not an
// error: the connection keeps trying in the background and Publish waits.
func NewNATSPublisher(subject string, o NATSOptions) (Publisher, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if o.URL == "" {
		o.URL = nats.DefaultURL
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = time.Second
	}
	opts := []nats.Option{
		nats.Name("ecm-adapter " + subject),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(o.ReconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("nats connected", zap.String("server", nc.ConnectedUrlRedacted())) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", zap.String("server", nc.ConnectedUrlRedacted())) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Error("nats error", zap.Error(err)) }),
	}
	nc, err := nats.Connect(o.URL, append(opts, o.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats %s: %w", o.URL, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(o.MaxPending),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &natsPublisher{nc: nc, js: js, subject: subject, ackTimeout: o.AckTimeout,
		backoff: o.Backoff.orDefault(), log: log}, nil
}

func (p *natsPublisher) Publish(ctx context.Context, events []event.Event) error {
	refused := map[int]string{}
	msgs := make([]*nats.Msg, len(events))
	pending := make([]int, 0, len(events))
	for i, e := range events {
		m, err := cenats.Encode(p.subject+"."+uin.Partition(e.Subject()), e)
		if err != nil {
			refused[i] = fmt.Sprintf("event %s cannot be encoded: %v", e.ID(), err)
			continue
		}
		m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID(e.Source(), e.ID()))
		msgs[i] = m
		pending = append(pending, i)
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		var err error
		if p.nc.IsConnected() {
			pending, err = p.attempt(ctx, msgs, pending, refused)
		} else {
			err = fmt.Errorf("not connected (%s)", p.nc.Status())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(pending) == 0 {
			break
		}
		d := p.backoff.Delay(attempt)
		p.log.Warn("broker did not store every event, retrying", zap.Int("events", len(pending)),
			zap.Int("attempt", attempt+1), zap.Duration("wait", d), zap.Error(err))
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	if len(refused) > 0 {
		return &RejectedError{Reasons: refused}
	}
	return nil
}

// attempt publishes msgs[pending] once and returns those that must be sent
// again, in order, with the first error seen.
func (p *natsPublisher) attempt(ctx context.Context, msgs []*nats.Msg, pending []int, refused map[int]string) ([]int, error) {
	var failed []int
	var firstErr error
	fail := func(i int, err error) {
		failed = append(failed, i)
		if firstErr == nil {
			firstErr = err
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(pending))
	sent := 0
	for _, i := range pending {
		f, err := p.js.PublishMsgAsync(msgs[i], jetstream.WithStallWait(p.ackTimeout))
		if errors.Is(err, nats.ErrMaxPayload) {
			refused[i] = "the event is larger than the server accepts"
			futures = append(futures, nil)
			sent++
			continue
		}
		if err != nil {
			// The connection is in trouble: the rest waits for the next attempt.
			firstErr = err
			break
		}
		futures = append(futures, f)
		sent++
	}
	for k, f := range futures {
		if f == nil {
			continue
		}
		i := pending[k]
		select {
		case <-f.Ok():
		case err := <-f.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
				refused[i] = "the broker refused it: " + apiErr.Description
				continue
			}
			fail(i, err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	failed = append(failed, pending[sent:]...)
	return failed, firstErr
}

// Close closes the connection. Publish has returned by then, so no ack is
// outstanding.
func (p *natsPublisher) Close() error {
	p.nc.Close()
	return nil
}

var _ Publisher = (*natsPublisher)(nil)
