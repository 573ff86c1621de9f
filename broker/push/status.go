package push

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Status says, for each participant with a webhook, how many copies wait,
// since when, how the copy being tried is faring, the endpoint's breaker
// (as this instance sees it) and how many copies were given up.
func (p *Pusher) Status(ctx context.Context) (api.PushStatus, error) {
	out := api.PushStatus{Participants: []api.PushParticipant{}}
	delivery, err := p.js.Stream(ctx, wire.StreamDelivery)
	if err != nil {
		return out, err
	}
	for _, part := range p.participants() {
		s := api.PushParticipant{Participant: part.ID, Endpoint: part.Push.Endpoint(),
			Breaker: p.breaker(part.Push.Endpoint()).current(time.Now()).String()}
		cons, err := p.js.Consumer(ctx, wire.StreamDelivery, wire.PushConsumer(part.ID))
		if err != nil {
			return out, fmt.Errorf("opening consumer %s: %w", wire.PushConsumer(part.ID), err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return out, fmt.Errorf("reading consumer %s: %w", wire.PushConsumer(part.ID), err)
		}
		s.Pending = info.NumPending + uint64(info.NumAckPending)
		if s.Pending > 0 {
			m, err := delivery.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(wire.DeliverySubject(part.ID)))
			if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return out, fmt.Errorf("reading the oldest pending copy of %s: %w", part.ID, err)
			}
			if err == nil {
				s.Oldest = m.Time.UTC().Format(time.RFC3339)
			}
		}
		if st := p.loadState(ctx, part.ID); st.Count > 0 && st.Seq > info.AckFloor.Stream {
			s.Failures = st.Count
			s.LastFailure = st.Attempts[len(st.Attempts)-1].Result
			s.NextAttempt = st.Next.UTC().Format(time.RFC3339)
		}
		err = p.deadLettered(ctx, part.ID, true, func(store.Msg, uint64) error { s.DeadLettered++; return nil })
		if err != nil {
			return out, fmt.Errorf("counting the dead letters of %s: %w", part.ID, err)
		}
		out.Participants = append(out.Participants, s)
	}
	return out, nil
}
