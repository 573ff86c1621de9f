package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// maxMsgSize is the largest message the broker's streams take: an event at
// its limit with room for its headers.
const maxMsgSize = event.MaxBytes + 64*1024

// sourcedAfter is the ECM_INGEST metadata key that holds the last sequence
// the stream had when it stopped taking publishes itself and began sourcing
// the participants' streams (0, or absent, for a stream that always sourced
// them). IngestPending counts the events still to be sourced from it.
const sourcedAfter = "ecm-sourced-after"

// ensureIngest creates or updates each participant's own ingest stream and
// ECM_INGEST, which sources them all (wire.IngestStream says why). The
// participant's stream remembers message ids for the duplicate window and
// keeps its events that long, so that a retried publish is recognised even
// after a restart; ECM_INGEST keeps every event for the pipeline and the
// operations, and detects no duplicates: an id means something only within
// one participant's stream. A participant removed from the configuration
// keeps its stream and stays a source, like its delivery consumer, so that
// an instance still running an older configuration cannot cut another's
// events off.
func ensureIngest(ctx context.Context, js jetstream.JetStream, c *config.Config) error {
	agg, err := js.Stream(ctx, wire.StreamIngest)
	var cfg jetstream.StreamConfig
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		cfg = jetstream.StreamConfig{Name: wire.StreamIngest}
	case err != nil:
		return fmt.Errorf("reading stream %s: %w", wire.StreamIngest, err)
	default:
		cfg = agg.CachedInfo().Config
		if len(cfg.Subjects) > 0 && len(cfg.Sources) == 0 {
			// A store from before the participants' streams: ECM_INGEST
			// gives up its subjects first, so that theirs do not overlap.
			// Its sequences go on; the events it holds stay where they are.
			cfg.Subjects = nil
			cfg.Metadata = withMeta(cfg.Metadata, sourcedAfter, strconv.FormatUint(agg.CachedInfo().State.LastSeq, 10))
			if _, err := js.UpdateStream(ctx, cfg); err != nil {
				return fmt.Errorf("converting stream %s to sourcing: %w", wire.StreamIngest, err)
			}
		}
	}
	// The participants' streams exist before ECM_INGEST names them as
	// sources: a source that is not there yet is retried only after a
	// back-off of several seconds.
	for _, p := range c.Participants {
		sc := jetstream.StreamConfig{
			Name:        wire.IngestStream(p.ID),
			Subjects:    wire.IngestStreamSubjects(p.ID),
			Description: "events as " + p.ID + " published them: its own sequences and duplicate detection; sourced into " + wire.StreamIngest,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.Duplicates,
			MaxAge:      c.Duplicates,
			MaxMsgSize:  maxMsgSize,
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("creating stream %s: %w", sc.Name, err)
		}
	}
	cfg.Description = "every participant's events, sourced from its own stream, in the order the broker takes them"
	cfg.Subjects = nil
	cfg.Storage = jetstream.FileStorage
	cfg.Replicas = c.Replicas
	cfg.Duplicates = 0                 // with sources: none (nats-server checkStreamCfg), as each participant's stream detects its own
	cfg.MaxMsgSize = maxMsgSize + 4096 // the source header added to an event at the participants' limit
	cfg.AllowDirect = true             // a child's history is read by sequence (retention.go)
	for _, p := range c.Participants {
		name := wire.IngestStream(p.ID)
		if !slices.ContainsFunc(cfg.Sources, func(s *jetstream.StreamSource) bool { return s.Name == name }) {
			cfg.Sources = append(cfg.Sources, &jetstream.StreamSource{Name: name})
		}
	}
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("creating stream %s: %w", wire.StreamIngest, err)
	}
	return nil
}

func withMeta(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}

// IngestPending counts the events published that the broker has not yet
// acknowledged: those in the participants' streams not yet sourced into
// ECM_INGEST (Unsourced), and those ECM_INGEST's consumers have not delivered
// or that are delivered and not yet acknowledged. Zero means every event
// published before the call has been taken through the pipeline.
func IngestPending(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	pending, err := Unsourced(ctx, js)
	if err != nil {
		return 0, err
	}
	for _, name := range wire.IngestConsumers() {
		c, err := js.Consumer(ctx, wire.StreamIngest, name)
		if err != nil {
			return 0, err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return 0, err
		}
		pending += ci.NumPending + uint64(ci.NumAckPending)
	}
	return pending, nil
}

// Unsourced counts the events the participants' own streams hold that
// ECM_INGEST has not taken in yet: the participants' streams' last sequences
// less what ECM_INGEST has received since it began sourcing (every message of
// those streams is sourced once, and a deletion in either changes no last
// sequence). It stays above zero while ECM_INGEST cannot take a participant's
// events, and those events expire unread once they are older than the
// duplicate window: ecm_ingest_unsourced, an alert (docs/durability.md).
func Unsourced(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var published uint64
	list := js.ListStreams(ctx, jetstream.WithStreamListSubject(wire.IngestFilter))
	for info := range list.Info() {
		published += info.State.LastSeq
	}
	if err := list.Err(); err != nil {
		return 0, fmt.Errorf("listing the participants' ingest streams: %w", err)
	}
	agg, err := js.Stream(ctx, wire.StreamIngest)
	if err != nil {
		return 0, err
	}
	info := agg.CachedInfo()
	base, _ := strconv.ParseUint(info.Config.Metadata[sourcedAfter], 10, 64)
	if received := info.State.LastSeq - min(base, info.State.LastSeq); published > received {
		return published - received, nil
	}
	return 0, nil
}
