package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream, bucket and subject names. They are chosen to read well in
// `nats stream ls`: one stream per stage, subjects that say who they are for.
// No subject ever holds a raw UIN: a child appears only as its keyed hash.
const (
	StreamIngest     = "ECM_INGEST"     // ecm.ingest.<area>.<agency>: events as published
	StreamDelivery   = "ECM_DELIVERY"   // ecm.deliver.<area>.<agency>: each participant's copies
	StreamAudit      = "ECM_AUDIT"      // ecm.audit.<child key>: one record per decided event
	StreamDeadLetter = "ECM_DEADLETTER" // ecm.deadletter.<area>.<agency>: rejected input with reasons
	BucketChildren   = "ECM_CHILDREN"   // key <child key>: index record and consent history
	BucketMeta       = "ECM_META"       // broker-wide settings shared by every instance

	ConsumerBroker = "ecm-broker" // the durable consumer every broker instance shares
)

// IngestSubject is where participant id ("leeds/pct") publishes events.
func IngestSubject(participant string) string { return "ecm.ingest." + dotted(participant) }

// DeliverySubject is where a participant's copies are stored.
func DeliverySubject(participant string) string { return "ecm.deliver." + dotted(participant) }

// AuditSubject holds the audit records of one child (by child key).
func AuditSubject(childKey string) string { return "ecm.audit." + childKey }

// DeadLetterSubject holds rejected input from one publisher ("http" when
// the publisher is not known).
func DeadLetterSubject(publisher string) string { return "ecm.deadletter." + dotted(publisher) }

func dotted(participant string) string {
	b := []byte(participant)
	for i, c := range b {
		if c == '/' {
			b[i] = '.'
		}
	}
	return string(b)
}

// ensureStreams creates or updates the broker's streams and buckets. Every
// instance runs it at start; it is idempotent.
func ensureStreams(ctx context.Context, js jetstream.JetStream, c *Config) error {
	streams := []jetstream.StreamConfig{
		{Name: StreamIngest, Subjects: []string{"ecm.ingest.>"}, Description: "events as published by participants"},
		{Name: StreamDelivery, Subjects: []string{"ecm.deliver.>"}, Description: "each participant's delivered copies"},
		{Name: StreamAudit, Subjects: []string{"ecm.audit.>"}, Description: "one decision record per event",
			DenyDelete: true, DenyPurge: true},
		{Name: StreamDeadLetter, Subjects: []string{"ecm.deadletter.>"}, Description: "rejected input with every reason"},
	}
	for _, sc := range streams {
		sc.Storage = jetstream.FileStorage
		sc.Replicas = c.Replicas
		sc.Duplicates = c.Duplicates
		sc.MaxMsgSize = maxEventBytes + 64*1024
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("creating stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range []jetstream.KeyValueConfig{
		{Bucket: BucketChildren, Description: "per child: s.12(4) index record and consent history", History: 1},
		{Bucket: BucketMeta, Description: "broker-wide settings"},
	} {
		kc.Storage = jetstream.FileStorage
		kc.Replicas = c.Replicas
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("creating bucket %s: %w", kc.Bucket, err)
		}
	}
	_, err := js.CreateOrUpdateConsumer(ctx, StreamIngest, jetstream.ConsumerConfig{
		Durable:       ConsumerBroker,
		Description:   "broker instances: validate, decide, deliver, audit",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 10000,
		Replicas:      c.Replicas,
	})
	if err != nil {
		return fmt.Errorf("creating consumer %s: %w", ConsumerBroker, err)
	}
	return nil
}

// childKeySecret returns the broker-wide secret that keys child hashes: the
// configured one, or the one stored in the meta bucket (created by the first
// instance to start).
func childKeySecret(ctx context.Context, js jetstream.JetStream, c *Config) ([]byte, error) {
	if c.ChildKeySecret != "" {
		return []byte(c.ChildKeySecret), nil
	}
	kv, err := js.KeyValue(ctx, BucketMeta)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", BucketMeta, err)
	}
	fresh := randomHex(32)
	if _, err := kv.Create(ctx, "child-key-secret", []byte(fresh)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("storing child key secret: %w", err)
	}
	e, err := kv.Get(ctx, "child-key-secret")
	if err != nil {
		return nil, fmt.Errorf("reading child key secret: %w", err)
	}
	return e.Value(), nil
}
