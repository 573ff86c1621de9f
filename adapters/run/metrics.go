package run

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the runner's Prometheus counters, by agency.
type Metrics struct {
	read, published, rejected *prometheus.CounterVec
	acks                      *prometheus.CounterVec // MLLP acknowledgements by code
}

// NewMetrics registers the runner's counters with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		read: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ecm_adapter_records_read_total",
			Help: "Native records read from exports, mapped or rejected.",
		}, []string{"agency"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ecm_adapter_events_published_total",
			Help: "Events the broker has stored (or already had).",
		}, []string{"agency"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ecm_adapter_records_rejected_total",
			Help: "Records written to rejects: not mappable, or refused by the broker.",
		}, []string{"agency"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ecm_adapter_mllp_acks_total",
			Help: "HL7 acknowledgements sent over MLLP, by code: AA stored, AE rejected, AR send again.",
		}, []string{"code"}),
	}
	reg.MustRegister(m.read, m.published, m.rejected, m.acks)
	return m
}
