package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream, bucket and subject names. They are chosen to read well in
// `nats stream ls`: one stream per stage, subjects that say who they are for.
// No subject ever holds a raw UIN: a child appears only as its keyed hash.
const (
	StreamIngest     = "ECM_INGEST"     // ecm.ingest.<area>.<agency>.<partition>: events as published
	StreamDelivery   = "ECM_DELIVERY"   // ecm.deliver.<area>.<agency>: each participant's copies
	StreamAudit      = "ECM_AUDIT"      // ecm.audit.<child key>: one record per decided event
	StreamDeadLetter = "ECM_DEADLETTER" // ecm.deadletter.<area>.<agency>: rejected input with reasons
	BucketChildren   = "ECM_CHILDREN"   // key <child key>: index record and consent history
	BucketMeta       = "ECM_META"       // broker-wide settings shared by every instance

	// ConsumerPrefix names the durable consumers the broker instances share:
	// ecm-broker-p00 … ecm-broker-p15, one per partition, each pinned to one
	// instance at a time; ecm-broker-unrouted dead-letters events published
	// without a partition token.
	ConsumerPrefix   = "ecm-broker-p"
	ConsumerUnrouted = "ecm-broker-unrouted"
	priorityGroup    = "ecm"
)

// IngestSubject is where participant id ("leeds/pct") publishes events about
// the child with the given UIN: its own subject space, one partition per
// group of children (uin.Partition), so that a child's events stay in order.
func IngestSubject(participant, child string) string {
	return "ecm.ingest." + dotted(participant) + "." + uin.Partition(child)
}

// ingestSubjects are the ingest stream's subjects: each partition, and the
// bare participant subject (whose events are refused for want of a
// partition). A publish anywhere else finds no stream and fails at once.
func ingestSubjects() []string {
	_, filters := partitionConsumers()
	return append(filters, "ecm.ingest.*.*")
}

// IngestConsumers lists the durable consumers of the ingest stream: one per
// partition, then the one for unrouted subjects.
func IngestConsumers() []string {
	names, _ := partitionConsumers()
	return append(names, ConsumerUnrouted)
}

// partitionConsumers lists the per-partition consumer names and filters.
func partitionConsumers() (names, filters []string) {
	for p := 0; p < uin.Partitions; p++ {
		tok := fmt.Sprintf("%02d", p)
		names = append(names, ConsumerPrefix+tok)
		filters = append(filters, "ecm.ingest.*.*."+tok)
	}
	return names, filters
}

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
		{Name: StreamIngest, Subjects: ingestSubjects(), Description: "events as published by participants"},
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
		if sc.Name == StreamDelivery { // delivery_limits (limits.go)
			if err := applyDeliveryLimits(ctx, js, &sc, c.DeliveryLimits); err != nil {
				return err
			}
		}
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
	names, filters := partitionConsumers()
	names, filters = append(names, ConsumerUnrouted), append(filters, "ecm.ingest.*.*")
	for i, name := range names {
		_, err := js.CreateOrUpdateConsumer(ctx, StreamIngest, jetstream.ConsumerConfig{
			Durable:        name,
			Description:    "broker instances: validate, decide, deliver, audit " + filters[i],
			FilterSubject:  filters[i],
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        10 * time.Second,
			MaxAckPending:  4096,
			Replicas:       c.Replicas,
			PriorityPolicy: jetstream.PriorityPolicyPinned,
			PriorityGroups: []string{priorityGroup},
			PinnedTTL:      10 * time.Second,
		})
		if err != nil {
			return fmt.Errorf("creating consumer %s: %w", name, err)
		}
	}
	return nil
}

// createOrRead stores value under key unless the key exists, and returns
// what the key holds. KV reads are direct gets, which any replica answers:
// one that has not yet applied the create (another instance's, or this
// one's a moment ago on a cluster) says "not found", so the value created
// here is returned as is, and a read is retried for a few seconds.
func createOrRead(ctx context.Context, kv jetstream.KeyValue, key string, value []byte) ([]byte, error) {
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
	v, err := createOrRead(ctx, kv, "child-key-secret", []byte(fresh))
	if err != nil {
		return nil, fmt.Errorf("child key secret: %w", err)
	}
	return v, nil
}
