package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// retentionStreamConfig sets the MaxAge of the streams where one age fits
// every message, and AllowDirect on the ingest stream (a child's history is
// read by sequence: direct gets are answered by the stream, concurrently,
// not queued behind the JetStream API). Ensure may call it for each
// stream config; until then ApplyRetention updates the streams after they
// are created.
func retentionStreamConfig(sc *jetstream.StreamConfig, c *config.Config) bool {
	switch {
	case sc.Name == wire.StreamDeadLetter && sc.MaxAge != time.Duration(c.Retention.DeadLetters):
		sc.MaxAge = time.Duration(c.Retention.DeadLetters)
		return true
	case sc.Name == wire.StreamIngest && !sc.AllowDirect:
		sc.AllowDirect = true
		return true
	}
	return false
}

// ApplyRetention puts the configured ages on the streams, and lets the
// ingest stream answer reads by sequence directly (the child index reads a
// child's events by sequence; see retentionStreamConfig).
func ApplyRetention(ctx context.Context, js jetstream.JetStream, c *config.Config) error {
	for _, name := range []string{wire.StreamDeadLetter, wire.StreamIngest} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		sc := s.CachedInfo().Config
		if retentionStreamConfig(&sc, c) {
			if _, err := js.UpdateStream(ctx, sc); err != nil {
				return fmt.Errorf("configuring %s: %w", sc.Name, err)
			}
		}
	}
	return nil
}
