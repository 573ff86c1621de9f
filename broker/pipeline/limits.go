package pipeline

// Delivery limits (config delivery_limits, docs/durability.md). ECM_DELIVERY
// keeps every participant's copies under its own subject, and a participant
// that never reads must neither fill the store the others share nor lose a
// statutory delivery without anyone knowing. So the limit is per subject and
// refuses the newest copy rather than dropping the oldest
// (MaxMsgsPerSubject with DiscardNewPerSubject): JetStream refuses a copy for
// a participant that holds max_per_participant, the pipeline hands the
// refused copy to holdRefusedCopy, which keeps it in the dead letters and
// counts it, and the batch goes on for everyone else. /metrics shows what
// each participant holds against the limit (deliveryCollector).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// errPerSubjectLimit is how JetStream words a refusal by
// MaxMsgsPerSubject with DiscardNewPerSubject.
const errPerSubjectLimit = "maximum messages per subject exceeded"

// RefusedByLimit reports whether a publish of a copy failed because its
// participant holds delivery_limits.max_per_participant copies.
func RefusedByLimit(pubErr error) bool {
	var apiErr *jetstream.APIError
	return errors.As(pubErr, &apiErr) && strings.Contains(apiErr.Description, errPerSubjectLimit)
}

// LimitReason says in words why a copy for participant was not stored; it
// goes in the audit's record of the copy, so it names no child.
func LimitReason(participant string, limit int64) string {
	return fmt.Sprintf("not delivered: %s already held delivery_limits.max_per_participant (%d) copies, so %s refused this one; "+
		"it is kept in the dead letters until a replay delivers it", participant, limit, wire.StreamDelivery)
}

// holdRefusedCopy is called by the pipeline with a publish that failed. When
// it is a delivered copy refused by the per-participant limit, it stores the
// copy in the dead letters (idempotently: the id is the copy's own), counts
// it, and reports held with the dead letter's sequence; the caller then
// carries on with the batch. Any other failure is not its business (held
// false). An error means the copy could not be kept: the caller must fail the
// batch so the event is redelivered.
//
// The dead letter holds the copy as it would have been delivered: the body
// already lacks the fields the decision removed, so the dead letters keep
// nothing the participant was not allowed. A replay that delivers the copy
// later replaces it with the copy as delivered (ops, resolveRefused).
func (b *Pipeline) holdRefusedCopy(ctx context.Context, m *nats.Msg, pubErr error) (dlSeq uint64, held bool, err error) {
	if m == nil || !RefusedByLimit(pubErr) {
		return 0, false, nil
	}
	participant, ok := wire.ParseDeliverySubject(m.Subject)
	if !ok {
		return 0, false, nil
	}
	dl := newDeadLetter("ecm-broker", m, []api.Problem{{Field: "delivery", Reason: fmt.Sprintf(
		"%s already holds delivery_limits.max_per_participant (%d) copies, so %s refused this one; it is kept here, not delivered",
		participant, b.Config.DeliveryLimits.MaxPerParticipant, wire.StreamDelivery)}})
	body, err := json.Marshal(dl)
	if err != nil {
		return 0, true, fmt.Errorf("encoding refused copy for %s: %w", participant, err)
	}
	out := nats.NewMsg(wire.UndeliveredSubject(participant))
	out.Header.Set(jetstream.MsgIDHeader, wire.UndeliveredMsgID(m.Header.Get(jetstream.MsgIDHeader)))
	out.Data = body
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := b.JS.PublishMsg(ctx, out)
	if err != nil {
		return 0, true, fmt.Errorf("keeping refused copy for %s: %w", participant, err)
	}
	if !ack.Duplicate {
		b.Metrics.deliveryRefused.WithLabelValues(participant).Inc()
	}
	b.Log.Warn("delivery limit reached: copy kept in the dead letters",
		zap.Error(pubErr), zap.String("participant", participant), zap.String("dead_letter", out.Subject))
	return ack.Sequence, true, nil
}
