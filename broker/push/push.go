package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Deps are what the pusher works with; the broker builds them.
type Deps struct {
	JS      jetstream.JetStream
	Config  *config.Config
	Audit   *audit.Writer // records a retry (an operator action)
	Log     *zap.Logger
	Metrics prometheus.Registerer
}

// Pusher pushes the copies of every participant with a webhook.
type Pusher struct {
	js      jetstream.JetStream
	cfg     *config.Config
	audit   *audit.Writer
	log     *zap.Logger
	client  *http.Client
	metrics *metrics

	mu       sync.Mutex
	breakers map[string]*breaker // by endpoint: participants served by one engine share it
	kv       jetstream.KeyValue  // ECM_PUSH, opened once (state.go)
}

// New builds the pusher; Run runs it.
func New(d Deps) *Pusher {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	p := &Pusher{js: d.JS, cfg: d.Config, audit: d.Audit, log: d.Log, metrics: newMetrics(d.Metrics), breakers: map[string]*breaker{},
		client: &http.Client{Transport: tr,
			// A redirect is answered as it is (not 2xx, so a failure): the
			// copy goes to the configured URL or nowhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return p
}

// participants are those with a webhook.
func (p *Pusher) participants() []config.Participant {
	var out []config.Participant
	for _, part := range p.cfg.Participants {
		if part.Push != nil {
			out = append(out, part)
		}
	}
	return out
}

// Run pushes until ctx ends: one worker per participant, so one slow
// endpoint holds up no one else. Every broker instance runs it; the push
// consumer gives each copy to one of them at a time.
func (p *Pusher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, part := range p.participants() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := p.consume(ctx, part); err != nil && ctx.Err() == nil {
					p.log.Warn("push: reading copies failed; trying again", zap.String("participant", part.ID), zap.Error(err))
					sleep(ctx, time.Second)
				}
			}
		}()
	}
	wg.Wait()
}

// fetchWait bounds how long a fetch waits for a copy, and so how long Close
// waits for an idle worker. A fetch, unlike a long-lived subscription, never
// leaves a copy on its way to a stopped worker (which would then wait
// store.PushAckWait to be redelivered after a restart).
const fetchWait = time.Second

func (p *Pusher) consume(ctx context.Context, part config.Participant) error {
	cons, err := p.js.Consumer(ctx, wire.StreamDelivery, wire.PushConsumer(part.ID))
	if err != nil {
		return fmt.Errorf("opening consumer %s: %w", wire.PushConsumer(part.ID), err)
	}
	// What this participant's worker left when the broker last stopped,
	// read once: the last copy delivered, and the attempts at the next.
	done, resume := p.doneUpTo(ctx, part.ID), p.loadState(ctx, part.ID)
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return err
		}
		for msg := range batch.Messages() {
			if err := p.push(ctx, part, msg, done, resume); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return err
		}
	}
	return nil
}

// push delivers one copy: attempts until a 2xx (then the copy is
// acknowledged) or until it is older than push.give_up_after (then it is
// dead-lettered, and acknowledged). When ctx ends first the copy is handed
// back (Nak) for the next instance or start, its attempts kept.
//
// done is the last copy recorded delivered when the worker started
// (doneUpTo): a copy up to it is acknowledged without being pushed again.
// resume is the state of the attempts then: its backoff is carried on.
func (p *Pusher) push(ctx context.Context, part config.Participant, msg jetstream.Msg, done uint64, resume state) error {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return nil
	}
	stop := keepAlive(msg)
	defer stop()
	seq, stored, id := meta.Sequence.Stream, meta.Timestamp, WebhookID(msg.Headers())
	if seq <= done { // delivered, its acknowledgement forgotten in a crash
		p.ack(ctx, part.ID, msg, seq)
		return nil
	}
	st := state{Seq: seq}
	switch {
	case resume.Seq == seq && resume.Count > 0: // tried before the broker stopped: carry on its backoff
		st = resume
	case meta.NumDelivered > 1: // tried before, maybe by another instance
		if old := p.loadState(ctx, part.ID); old.Seq == seq {
			st = old
		}
	}
	br := p.breaker(part.Push.Endpoint())
	for {
		if ctx.Err() != nil {
			// Handed back at once to another instance of a cluster. After a
			// restart of the server itself (the embedded one) the hand-back
			// is forgotten and the copy comes back after store.PushAckWait.
			_ = msg.Nak()
			return nil
		}
		if wait := time.Until(st.Next); wait > 0 {
			sleep(ctx, wait)
			continue
		}
		ok, wait, stateNow := br.allow(time.Now())
		p.metrics.breaker.WithLabelValues(part.ID).Set(stateNow.gauge())
		if !ok {
			p.metrics.heldBack.WithLabelValues(part.ID).Inc()
			sleep(ctx, wait)
			continue
		}
		res := p.attempt(part, id, msg.Data())
		p.metrics.breaker.WithLabelValues(part.ID).Set(br.record(res.ok, time.Now()).gauge())
		p.metrics.attempts.WithLabelValues(part.ID, res.outcome).Inc()
		p.metrics.seconds.WithLabelValues(part.ID).Observe(res.took.Seconds())
		if res.ok {
			// Acknowledged only now, after the 2xx. Should the
			// acknowledgement be lost the copy is pushed again with the same
			// webhook-id, which the receiver can drop (docs/push.md).
			p.markDone(part.ID, seq)
			p.ack(ctx, part.ID, msg, seq)
			if st.Count > 0 || meta.NumDelivered > 1 {
				p.clearState(part.ID, seq)
			}
			return nil
		}
		st.add(res)
		p.log.Info("push: attempt failed", zap.String("participant", part.ID), zap.Uint64("seq", seq),
			zap.Int("attempt", st.Count), zap.String("result", res.text))
		if age := time.Since(stored); age >= p.cfg.Push.GiveUpAfter {
			if err := p.giveUp(ctx, part, msg, seq, age, id, st); err != nil {
				p.log.Error("push: could not dead-letter the copy; it stays pending", zap.String("participant", part.ID),
					zap.Uint64("seq", seq), zap.Error(err))
				st.Next = time.Now().Add(p.backoff(st.Count))
				continue
			}
			return nil
		}
		st.Next = time.Now().Add(p.backoff(st.Count))
		p.saveState(ctx, part.ID, st)
	}
}

// ack acknowledges a delivered copy, even as the broker stops.
func (p *Pusher) ack(ctx context.Context, participant string, msg jetstream.Msg, seq uint64) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		p.log.Warn("push: delivered but not acknowledged; it may be pushed again with the same webhook-id",
			zap.String("participant", participant), zap.Uint64("seq", seq), zap.Error(err))
	}
}

// backoff is the wait after the n-th failed attempt: push.backoff.initial
// doubled n-1 times, at most push.backoff.max, less a random part of up to
// a half (jitter), so that endpoints that failed together are not retried
// together.
func (p *Pusher) backoff(n int) time.Duration {
	d, ceiling := p.cfg.Push.Backoff.Initial, p.cfg.Push.Backoff.Max
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d - time.Duration(rand.Int64N(int64(d/2)+1))
}

// keepAlive tells the push consumer, three times per store.PushAckWait,
// that the copy is still being pushed, however long the backoff.
func keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(store.PushAckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// WebhookID is the webhook-id of a copy: the same for every attempt, for a
// copy pushed again after a restart and for one re-queued by a retry
// (wire.HeaderPushOf), so a receiver can drop what it already has. It is a
// hash of the copy's message id, which names the event and the participant.
func WebhookID(h nats.Header) string {
	id := h.Get(wire.HeaderPushOf)
	if id == "" {
		id = h.Get(jetstream.MsgIDHeader)
	}
	sum := sha256.Sum256([]byte(id))
	return "msg_" + hex.EncodeToString(sum[:16])
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
