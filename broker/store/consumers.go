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
