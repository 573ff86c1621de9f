package store

import (
	"context"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// deliveryCollector reads, at each scrape, how many copies ECM_DELIVERY
// holds for each participant: ecm_delivery_held, beside ecm_delivery_limit.
// An alert on held/limit warns before copies are refused.
type deliveryCollector struct {
	js           jetstream.JetStream
	participants []string
	limit        int64
	held, lim    *prometheus.Desc
}

func NewDeliveryCollector(js jetstream.JetStream, c *config.Config) *deliveryCollector {
	d := &deliveryCollector{js: js, limit: c.DeliveryLimits.MaxPerParticipant,
		held: prometheus.NewDesc("ecm_delivery_held", "Copies ECM_DELIVERY holds for the participant, read or not.", []string{"participant"}, nil),
		lim:  prometheus.NewDesc("ecm_delivery_limit", "delivery_limits.max_per_participant (0: no limit).", nil, nil)}
	for _, p := range c.Participants {
		d.participants = append(d.participants, p.ID)
	}
	return d
}

// ingestCollector reads, at each scrape, how many published events
// ECM_INGEST has not yet taken from the participants' own streams:
// ecm_ingest_unsourced (Unsourced).
type ingestCollector struct {
	js        jetstream.JetStream
	unsourced *prometheus.Desc
}

func NewIngestCollector(js jetstream.JetStream) *ingestCollector {
	return &ingestCollector{js: js, unsourced: prometheus.NewDesc("ecm_ingest_unsourced",
		"Events the participants' own ingest streams hold that ECM_INGEST has not taken in yet; they expire after the duplicate window.", nil, nil)}
}

func (c *ingestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.unsourced }

func (c *ingestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := Unsourced(ctx, c.js)
	if err != nil {
		return // the streams cannot be read now; /readyz says why
	}
	ch <- prometheus.MustNewConstMetric(c.unsourced, prometheus.GaugeValue, float64(n))
}

func (d *deliveryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.held; ch <- d.lim }

func (d *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(d.lim, prometheus.GaugeValue, float64(d.limit))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	held, err := HeldCopies(ctx, d.js)
	if err != nil {
		return // the stream cannot be read now; /readyz says why
	}
	for _, p := range d.participants {
		ch <- prometheus.MustNewConstMetric(d.held, prometheus.GaugeValue, float64(held[wire.DeliverySubject(p)]), p)
	}
}
