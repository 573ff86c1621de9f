package push

import "github.com/prometheus/client_golang/prometheus"

// metrics are ecm_push_*, by participant (never by child).
type metrics struct {
	attempts     *prometheus.CounterVec   // by outcome
	seconds      *prometheus.HistogramVec // how long an attempt took
	heldBack     *prometheus.CounterVec   // attempts not made: breaker open
	deadLettered *prometheus.CounterVec
	requeued     *prometheus.CounterVec
	breaker      *prometheus.GaugeVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_push_attempts_total",
			Help: "Attempts to push a copy to a participant's webhook, by outcome: delivered (2xx), http_error (any other status), timeout (no answer within push.timeout), unreachable (no connection)."},
			[]string{"participant", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ecm_push_attempt_seconds",
			Help: "How long each push attempt took, until the answer or the timeout.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)},
			[]string{"participant"}),
		heldBack: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_push_held_back_total",
			Help: "Times a push attempt waited because the endpoint's circuit breaker was open."}, []string{"participant"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_push_dead_lettered_total",
			Help: "Copies given up after push.give_up_after and kept in the dead letters."}, []string{"participant"}),
		requeued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_push_requeued_total",
			Help: "Dead-lettered copies re-queued by an operator (POST /v1/push/retry)."}, []string{"participant"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ecm_push_breaker_state",
			Help: "The circuit breaker of the participant's endpoint as its worker last saw it: 0 closed, 1 half-open, 2 open."},
			[]string{"participant"}),
	}
	if r != nil {
		r.MustRegister(m.attempts, m.seconds, m.heldBack, m.deadLettered, m.requeued, m.breaker)
	}
	return m
}
