package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// applyDeliveryLimits sets the limits on the ECM_DELIVERY stream config.
// Lowering max_per_participant below what a participant already holds is
// refused: JetStream would delete that participant's oldest copies to fit.
func applyDeliveryLimits(ctx context.Context, js jetstream.JetStream, sc *jetstream.StreamConfig, l config.DeliveryLimits) error {
	sc.MaxAge = l.MaxAge
	if l.MaxPerParticipant == 0 {
		return nil
	}
	sc.MaxMsgsPerSubject = l.MaxPerParticipant
	sc.Discard = jetstream.DiscardNew
	sc.DiscardNewPerSubject = true
	held, err := HeldCopies(ctx, js)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s before applying delivery_limits: %w", wire.StreamDelivery, err)
	}
	for subject, n := range held {
		if int64(n) > l.MaxPerParticipant {
			return fmt.Errorf("%w: delivery_limits.max_per_participant: %s holds %d copies, more than %d; "+
				"JetStream would delete its oldest copies to fit, so raise the limit or have the participant's copies dealt with first",
				config.ErrConfig, deliveryParticipant(subject), n, l.MaxPerParticipant)
		}
	}
	return nil
}

// HeldCopies counts the copies ECM_DELIVERY holds, by subject.
func HeldCopies(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	s, err := js.Stream(ctx, wire.StreamDelivery)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(wire.DeliveryFilter))
	if err != nil {
		return nil, err
	}
	return info.State.Subjects, nil
}

func deliveryParticipant(subject string) string {
	p, _ := wire.ParseDeliverySubject(subject)
	return p
}
