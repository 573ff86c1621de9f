package broker

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
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
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
	held, err := heldCopies(ctx, js)
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

// heldCopies counts the copies ECM_DELIVERY holds, by subject.
func heldCopies(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
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

// errPerSubjectLimit is how JetStream words a refusal by
// MaxMsgsPerSubject with DiscardNewPerSubject.
const errPerSubjectLimit = "maximum messages per subject exceeded"

// holdRefusedCopy is called by the pipeline with a publish that failed. When
// it is a delivered copy refused by the per-participant limit, it stores the
// copy in the dead letters (idempotently: the id is the copy's own), counts
// it, and reports held; the caller then carries on with the batch. Any other
// failure is not its business (held false). An error means the copy could
// not be kept: the caller must fail the batch so the event is redelivered.
func (b *Broker) holdRefusedCopy(ctx context.Context, m *nats.Msg, pubErr error) (held bool, err error) {
	var apiErr *jetstream.APIError
	if m == nil || !errors.As(pubErr, &apiErr) || !strings.Contains(apiErr.Description, errPerSubjectLimit) {
		return false, nil
	}
	participant, ok := wire.ParseDeliverySubject(m.Subject)
	if !ok {
		return false, nil
	}
	dl := newDeadLetter("ecm-broker", m, []api.Problem{{Field: "delivery", Reason: fmt.Sprintf(
		"%s already holds delivery_limits.max_per_participant (%d) copies, so %s refused this one; it is kept here, not delivered",
		participant, b.cfg.DeliveryLimits.MaxPerParticipant, wire.StreamDelivery)}})
	body, err := json.Marshal(dl)
	if err != nil {
		return true, fmt.Errorf("encoding refused copy for %s: %w", participant, err)
	}
	out := nats.NewMsg(wire.UndeliveredSubject(participant))
	out.Header.Set(jetstream.MsgIDHeader, wire.UndeliveredMsgID(m.Header.Get(jetstream.MsgIDHeader)))
	out.Data = body
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := b.js.PublishMsg(ctx, out)
	if err != nil {
		return true, fmt.Errorf("keeping refused copy for %s: %w", participant, err)
	}
	if !ack.Duplicate {
		b.metrics.deliveryRefused.WithLabelValues(participant).Inc()
	}
	b.log.Warn("delivery limit reached: copy kept in the dead letters",
		zap.Error(pubErr), zap.String("participant", participant), zap.String("dead_letter", out.Subject))
	return true, nil
}

// deliveryCollector reads, at each scrape, how many copies ECM_DELIVERY
// holds for each participant: ecm_delivery_held, beside ecm_delivery_limit.
// An alert on held/limit warns before copies are refused.
type deliveryCollector struct {
	js           jetstream.JetStream
	participants []string
	limit        int64
	held, lim    *prometheus.Desc
}

func newDeliveryCollector(js jetstream.JetStream, c *config.Config) *deliveryCollector {
	d := &deliveryCollector{js: js, limit: c.DeliveryLimits.MaxPerParticipant,
		held: prometheus.NewDesc("ecm_delivery_held", "Copies ECM_DELIVERY holds for the participant, read or not.", []string{"participant"}, nil),
		lim:  prometheus.NewDesc("ecm_delivery_limit", "delivery_limits.max_per_participant (0: no limit).", nil, nil)}
	for _, p := range c.Participants {
		d.participants = append(d.participants, p.ID)
	}
	return d
}

func (d *deliveryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.held; ch <- d.lim }

func (d *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(d.lim, prometheus.GaugeValue, float64(d.limit))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	held, err := heldCopies(ctx, d.js)
	if err != nil {
		return // the stream cannot be read now; /readyz says why
	}
	for _, p := range d.participants {
		ch <- prometheus.MustNewConstMetric(d.held, prometheus.GaugeValue, float64(held[wire.DeliverySubject(p)]), p)
	}
}

func deliveryParticipant(subject string) string {
	p, _ := wire.ParseDeliverySubject(subject)
	return p
}
