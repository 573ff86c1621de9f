package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// EnsureDeliveryConsumers creates each participant's durable pull consumer on
// ECM_DELIVERY, the only way a participant reads its deliveries over NATS.
// Idempotent; run at every start. A participant removed from the
// configuration keeps its consumer (and the acknowledgement state in it)
// until an administrator deletes it: it has no NATS identity any more.
func EnsureDeliveryConsumers(ctx context.Context, js jetstream.JetStream, c *config.Config) error {
	for _, p := range c.Participants {
		_, err := js.CreateOrUpdateConsumer(ctx, wire.StreamDelivery, jetstream.ConsumerConfig{
			Durable:         wire.DeliveryConsumer(p.ID),
			Description:     "deliveries of " + p.ID + ", read by its own NATS identity",
			FilterSubject:   wire.DeliverySubject(p.ID),
			DeliverPolicy:   jetstream.DeliverAllPolicy,
			AckPolicy:       jetstream.AckExplicitPolicy,
			AckWait:         30 * time.Second,
			MaxAckPending:   1000,
			MaxRequestBatch: 1000,
			Replicas:        c.Replicas,
		})
		if err != nil {
			return fmt.Errorf("creating consumer %s: %w", wire.DeliveryConsumer(p.ID), err)
		}
	}
	return nil
}

// EnsurePushConsumers creates, for each participant with a webhook
// (config.Participant.Push), the durable pull consumer through which the
// broker pushes its copies (broker/push), beside the participant's own:
// reading one never moves the other. At most one copy is unacknowledged at
// a time, so a participant's copies are pushed in the order they were
// stored, whichever broker instance pushes them. A participant whose
// webhook is removed keeps its consumer, idle, until an administrator
// deletes it; given a webhook again, it resumes where it stopped.
func EnsurePushConsumers(ctx context.Context, js jetstream.JetStream, c *config.Config) error {
	for _, p := range c.Participants {
		if p.Push == nil {
			continue
		}
		_, err := js.CreateOrUpdateConsumer(ctx, wire.StreamDelivery, jetstream.ConsumerConfig{
			Durable:       wire.PushConsumer(p.ID),
			Description:   "deliveries of " + p.ID + ", pushed by the broker to its webhook",
			FilterSubject: wire.DeliverySubject(p.ID),
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       PushAckWait,
			MaxAckPending: 1,
			MaxDeliver:    -1,
			Replicas:      c.Replicas,
		})
		if err != nil {
			return fmt.Errorf("creating consumer %s: %w", wire.PushConsumer(p.ID), err)
		}
	}
	return nil
}

// PushAckWait is how long a push consumer waits for the instance pushing a
// copy before it gives the copy to another: the instance says it is still
// at it (InProgress) three times in that time, however long it backs off.
// Short, because it is also how long a copy waits after a crash, or after a
// restart of the embedded server (which forgets a copy handed back); an
// instance stalled longer than this may see its copy pushed by another,
// with the same webhook-id.
const PushAckWait = 10 * time.Second
