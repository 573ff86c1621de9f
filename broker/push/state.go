package push

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// state is what has been tried for the copy a participant's worker is
// pushing, kept in ECM_PUSH under the participant's account name so that a
// restart, or another instance taking over, carries on the backoff and the
// dead letter lists every attempt.
type state struct {
	Seq      uint64    `json:"seq"` // the copy's sequence in ECM_DELIVERY
	Count    int       `json:"count"`
	Attempts []tried   `json:"attempts"` // the first few and the latest: stateAttemptsMax
	Next     time.Time `json:"next"`
}

type tried struct {
	At     time.Time `json:"at"`
	Result string    `json:"result"`
}

// stateAttemptsMax bounds the attempts listed: with the defaults a copy is
// tried about 80 times in 72 hours.
const (
	stateAttemptsMax   = 100
	stateAttemptsFirst = 10
)

func (s *state) add(r result) {
	s.Count++
	s.Attempts = append(s.Attempts, tried{At: r.at, Result: r.text})
	if len(s.Attempts) > stateAttemptsMax {
		s.Attempts = append(s.Attempts[:stateAttemptsFirst], s.Attempts[stateAttemptsFirst+1:]...)
	}
}

// bucket opens ECM_PUSH once.
func (p *Pusher) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kv != nil {
		return p.kv, nil
	}
	kv, err := p.js.KeyValue(ctx, wire.BucketPush)
	if err == nil {
		p.kv = kv
	}
	return kv, err
}

func (p *Pusher) loadState(ctx context.Context, participant string) state {
	var st state
	kv, err := p.bucket(ctx)
	if err != nil {
		return st
	}
	e, err := kv.Get(ctx, wire.ParticipantAccount(participant))
	if err != nil {
		return st
	}
	if json.Unmarshal(e.Value(), &st) != nil {
		return state{}
	}
	return st
}

func (p *Pusher) saveState(ctx context.Context, participant string, st state) {
	b, err := json.Marshal(st)
	if err == nil {
		var kv jetstream.KeyValue
		if kv, err = p.bucket(ctx); err == nil {
			_, err = kv.Put(ctx, wire.ParticipantAccount(participant), b)
		}
	}
	if err != nil && ctx.Err() == nil {
		p.log.Warn("push: could not keep the attempts; a restart would start the backoff again",
			zap.String("participant", participant), zap.Error(err))
	}
}

// clearState forgets the attempts at the copy at seq, once it is delivered
// or dead-lettered.
func (p *Pusher) clearState(participant string, seq uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := p.bucket(ctx)
	if err != nil {
		return
	}
	e, err := kv.Get(ctx, wire.ParticipantAccount(participant))
	if err != nil {
		return
	}
	var st state
	if json.Unmarshal(e.Value(), &st) == nil && st.Seq != seq {
		return
	}
	_ = kv.Purge(ctx, wire.ParticipantAccount(participant))
}

// deliveredKey holds, per participant, the sequence of the last copy
// delivered (or dead-lettered): the watermark a worker checks before it
// pushes a copy the consumer gives it a second time.
func deliveredKey(participant string) string {
	return wire.ParticipantAccount(participant) + ".delivered"
}

// markDone records that the copy at seq is delivered or dead-lettered,
// without waiting. The consumer's acknowledgement says the same, but the
// embedded server writes acknowledgements to disk in the background, so a
// crash can forget the last ones; a stream write outlives the process. The
// write is a publish to the bucket's subject, so it costs the worker no
// round trip; a write lost in a crash only means a repeat, which the
// receiver drops by its webhook-id.
func (p *Pusher) markDone(participant string, seq uint64) {
	m := nats.NewMsg("$KV." + wire.BucketPush + "." + deliveredKey(participant))
	m.Data = strconv.AppendUint(nil, seq, 10)
	if _, err := p.js.PublishMsgAsync(m); err != nil {
		p.log.Debug("push: could not record the delivery", zap.String("participant", participant), zap.Error(err))
	}
}

// doneUpTo is the sequence of the last copy recorded delivered or
// dead-lettered (markDone), read when a worker starts: copies up to it that
// the consumer gives again (their acknowledgements forgotten in a crash) are
// acknowledged without being pushed. 0 when none is recorded, or when
// ECM_DELIVERY was created after the record (its sequences started again:
// the record would skip copies never pushed).
func (p *Pusher) doneUpTo(ctx context.Context, participant string) uint64 {
	kv, err := p.bucket(ctx)
	if err != nil {
		return 0
	}
	e, err := kv.Get(ctx, deliveredKey(participant))
	if err != nil {
		return 0
	}
	s, err := p.js.Stream(ctx, wire.StreamDelivery)
	if err != nil || s.CachedInfo().Created.After(e.Created()) {
		return 0
	}
	last, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0
	}
	return last
}
