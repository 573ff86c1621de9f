package pipeline

import (
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the broker's Prometheus series. Labels name participants and
// bases, never a child.
type Metrics struct {
	Registry        *prometheus.Registry
	eventsIn        *prometheus.CounterVec
	delivered       *prometheus.CounterVec
	denied          *prometheus.CounterVec
	deadLettered    *prometheus.CounterVec
	policyErrors    prometheus.Counter
	decisionSeconds prometheus.Histogram
	policyReloads   *prometheus.CounterVec
	// Delivery limits (limits.go): copies refused because their participant
	// held delivery_limits.max_per_participant, and when each participant
	// last read over HTTP. ecm_delivery_held and ecm_delivery_limit are
	// read from the stream at each scrape (deliveryCollector).
	deliveryRefused *prometheus.CounterVec
	lastRead        *prometheus.GaugeVec
	lastReadAt      sync.Map // participant → time.Time, for GET /v1/operations
	// The audit's own verification (audit.Monitor): whether the chain is
	// broken, how many problems, when a check last ran and last found it
	// whole, and checks that could not read the audit.
	chainBroken     prometheus.Gauge
	chainBreaks     prometheus.Gauge
	verifyLastRun   prometheus.Gauge
	verifyLastWhole prometheus.Gauge
	verifyErrors    prometheus.Counter
}

// NewMetrics registers every series in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_events_in_total",
			Help: "Events taken from the ingest stream, by publisher."}, []string{"publisher"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_delivered_total",
			Help: "Copies delivered, by participant and lawful basis."}, []string{"participant", "basis"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_denied_total",
			Help: "Candidate decisions that denied, by reason."}, []string{"basis"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_deadlettered_total",
			Help: "Inputs rejected to the dead-letter stream, by publisher."}, []string{"publisher"}),
		policyErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ecm_policy_errors_total",
			Help: "Evaluations that failed and denied every candidate."}),
		decisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ecm_decision_seconds",
			Help: "Time to evaluate the policy for one event.", Buckets: prometheus.ExponentialBuckets(5e-6, 2, 16)}),
		policyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_policy_reloads_total",
			Help: "Policy reloads, by result (loaded or refused)."}, []string{"result"}),
		deliveryRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ecm_delivery_refused_total",
			Help: "Copies refused because the participant held delivery_limits.max_per_participant; each is in the dead letters."},
			[]string{"participant"}),
		lastRead: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ecm_delivery_last_read_timestamp_seconds",
			Help: "When the participant last read its deliveries over HTTP (Unix time)."}, []string{"participant"}),
		chainBroken: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ecm_audit_chain_broken",
			Help: "1 when the last verification of the audit found it not as written (docs/operations.md, \"A damaged audit\"), else 0."}),
		chainBreaks: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ecm_audit_chain_problems",
			Help: "Problems the last verification of the audit found."}),
		verifyLastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ecm_audit_verify_last_run_timestamp_seconds",
			Help: "When a verification of the audit last completed, whatever it found (Unix time)."}),
		verifyLastWhole: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ecm_audit_verify_last_success_timestamp_seconds",
			Help: "When a verification of the audit last completed and found every link whole (Unix time)."}),
		verifyErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ecm_audit_verify_errors_total",
			Help: "Background verifications of the audit that could not read it."}),
	}
	m.Registry.MustRegister(m.eventsIn, m.delivered, m.denied, m.deadLettered, m.policyErrors, m.decisionSeconds, m.policyReloads,
		m.deliveryRefused, m.lastRead, m.chainBroken, m.chainBreaks, m.verifyLastRun, m.verifyLastWhole, m.verifyErrors,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// PolicyReloaded counts a policy reload by outcome (loaded or refused).
func (m *Metrics) PolicyReloaded(outcome string) { m.policyReloads.WithLabelValues(outcome).Inc() }

// Read records that participant read its deliveries now.
func (m *Metrics) Read(participant string) {
	m.lastRead.WithLabelValues(participant).SetToCurrentTime()
	m.lastReadAt.Store(participant, time.Now())
}

// LastRead is when participant last read its deliveries over HTTP from this
// instance since it started.
func (m *Metrics) LastRead(participant string) (time.Time, bool) {
	v, ok := m.lastReadAt.Load(participant)
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// AuditChecked sets the audit verification series from a status of the
// audit's monitor.
func (m *Metrics) AuditChecked(s api.AuditChainStatus) {
	if s.Error != "" {
		m.verifyErrors.Inc()
	}
	unix := func(v string) float64 {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return 0
		}
		return float64(t.Unix())
	}
	if s.CheckedAt != "" {
		m.verifyLastRun.Set(unix(s.CheckedAt))
	}
	if s.LastWhole != "" {
		m.verifyLastWhole.Set(unix(s.LastWhole))
	}
	m.chainBreaks.Set(float64(s.BreakCount))
	if s.State == "broken" {
		m.chainBroken.Set(1)
	} else {
		m.chainBroken.Set(0)
	}
}
