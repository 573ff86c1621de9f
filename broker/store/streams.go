package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Ensure creates or updates the broker's streams and buckets. Every
// instance runs it at start; it is idempotent.
func Ensure(ctx context.Context, js jetstream.JetStream, c *config.Config) error {
	if err := ensureIngest(ctx, js, c); err != nil {
		return err
	}
	streams := []jetstream.StreamConfig{
		{Name: wire.StreamDelivery, Subjects: []string{wire.DeliveryFilter}, Description: "each participant's delivered copies"},
		{Name: wire.StreamAudit, Subjects: []string{wire.AuditFilter}, Description: "one decision record per event",
			DenyDelete: true, DenyPurge: true},
		{Name: wire.StreamDeadLetter, Subjects: []string{wire.DeadLetterFilter}, Description: "rejected input with every reason"},
	}
	for _, sc := range streams {
		sc.Storage = jetstream.FileStorage
		sc.Replicas = c.Replicas
		sc.Duplicates = c.Duplicates
		sc.MaxMsgSize = maxMsgSize
		if sc.Name == wire.StreamDelivery { // delivery_limits (limits.go)
			if err := applyDeliveryLimits(ctx, js, &sc, c.DeliveryLimits); err != nil {
				return err
			}
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("creating stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range []jetstream.KeyValueConfig{
		{Bucket: wire.BucketChildren, Description: "per child: s.12(4) index record and consent history", History: 1},
		{Bucket: wire.BucketMeta, Description: "broker-wide settings"},
		{Bucket: wire.BucketTriage, Description: "per dead letter: what an operator did about it", History: 1},
		{Bucket: wire.BucketPolicy, Description: "every policy revision that was live (full text), the live one, proposals", History: 1},
		{Bucket: wire.BucketPush, Description: "per participant with a webhook: the attempts at the copy being pushed", History: 1},
	} {
		kc.Storage = jetstream.FileStorage
		kc.Replicas = c.Replicas
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("creating bucket %s: %w", kc.Bucket, err)
		}
	}
	names, filters := wire.PartitionConsumers()
	names, filters = append(names, wire.ConsumerUnrouted), append(filters, wire.IngestUnrouted)
	for i, name := range names {
		_, err := js.CreateOrUpdateConsumer(ctx, wire.StreamIngest, jetstream.ConsumerConfig{
			Durable:        name,
			Description:    "broker instances: validate, decide, deliver, audit " + filters[i],
			FilterSubject:  filters[i],
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        10 * time.Second,
			MaxAckPending:  4096,
			Replicas:       c.Replicas,
			PriorityPolicy: jetstream.PriorityPolicyPinned,
			PriorityGroups: []string{wire.PriorityGroup},
			PinnedTTL:      10 * time.Second,
		})
		if err != nil {
			return fmt.Errorf("creating consumer %s: %w", name, err)
		}
	}
	return nil
}

// CreateOrRead stores value under key unless the key exists, and returns
// what the key holds. KV reads are direct gets, which any replica answers:
// one that has not yet applied the create (another instance's, or this
// one's a moment ago on a cluster) says "not found", so the value created
// here is returned as is, and a read is retried for a few seconds.
func CreateOrRead(ctx context.Context, kv jetstream.KeyValue, key string, value []byte) ([]byte, error) {
	_, err := kv.Create(ctx, key, value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("storing %s: %w", key, err)
	}
	for try := 0; ; try++ {
		e, err := kv.Get(ctx, key)
		if err == nil {
			return e.Value(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) || try == 50 {
			return nil, fmt.Errorf("reading %s: %w", key, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ChildKeySecret returns the broker-wide secret that keys child hashes: the
// configured one, or the one stored in the meta bucket (created by the first
// instance to start).
func ChildKeySecret(ctx context.Context, js jetstream.JetStream, c *config.Config) ([]byte, error) {
	if c.ChildKeySecret != "" {
		return []byte(c.ChildKeySecret), nil
	}
	kv, err := js.KeyValue(ctx, wire.BucketMeta)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", wire.BucketMeta, err)
	}
	fresh := randomHex(32)
	v, err := CreateOrRead(ctx, kv, "child-key-secret", []byte(fresh))
	if err != nil {
		return nil, fmt.Errorf("child key secret: %w", err)
	}
	return v, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
