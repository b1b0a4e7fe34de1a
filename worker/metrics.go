package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a delivered submission, the "outcome" label of aura_submissions_total.
const (
	// OutcomeOK: the verdict was stored and published, and the submission acked.
	OutcomeOK = "ok"
	// OutcomeRetry: a transient failure; the submission was nak'ed with a delay.
	OutcomeRetry = "retry"
	// OutcomeDeadLetter: a permanent failure or the last delivery failed; the submission was
	// dead-lettered and terminated.
	OutcomeDeadLetter = "dead_letter"
	// OutcomeHandedBack: the worker shut down before finishing; the submission was nak'ed
	// for another worker at once.
	OutcomeHandedBack = "handed_back"
)

// Metrics are the worker's Prometheus collectors. A nil *Metrics records nothing. The
// methods are safe for concurrent use.
type Metrics struct {
	submissions  *prometheus.CounterVec
	stages       *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	redeliveries prometheus.Counter
	deadLetters  *prometheus.CounterVec
	checks       *prometheus.CounterVec
}

// NewMetrics creates the worker's collectors and registers them with reg:
//
//   - aura_submissions_total{outcome, verdict}: delivered submissions by outcome (ok, retry,
//     dead_letter, handed_back) and verdict ("" when there is none);
//   - aura_stage_duration_seconds{stage}: latency of the stages queue, fetch,
//     wait_check (for one of the Concurrency slots), check, case, upload_log, store, publish,
//     dead_letter and total (from receipt to ack);
//   - aura_submissions_in_flight: submissions being worked on;
//   - aura_redeliveries_total: deliveries of a submission after its first;
//   - aura_dead_letters_total{cause}: dead letters published, by cause (permanent,
//     max_deliveries);
//   - aura_sync_checks_total{outcome}: synchronous checks by outcome (ok, error).
//
// It panics if reg already holds collectors of those names (prometheus.MustRegister).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_submissions_total", Help: "Delivered submissions by outcome and verdict.",
		}, []string{"outcome", "verdict"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aura_stage_duration_seconds",
			Help:    "Latency of the pipeline's stages.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aura_submissions_in_flight", Help: "Submissions being worked on.",
		}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aura_redeliveries_total", Help: "Deliveries of a submission after its first.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_dead_letters_total", Help: "Dead letters published, by cause.",
		}, []string{"cause"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_sync_checks_total", Help: "Synchronous checks by outcome.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.submissions, m.stages, m.inFlight, m.redeliveries, m.deadLetters, m.checks)
	return m
}

func (m *Metrics) outcome(outcome, verdict string) {
	if m != nil {
		m.submissions.WithLabelValues(outcome, verdict).Inc()
	}
}

func (m *Metrics) stage(name string, d time.Duration) {
	if m != nil {
		m.stages.WithLabelValues(name).Observe(d.Seconds())
	}
}

func (m *Metrics) flight(delta float64) {
	if m != nil {
		m.inFlight.Add(delta)
	}
}

func (m *Metrics) redelivered() {
	if m != nil {
		m.redeliveries.Inc()
	}
}

func (m *Metrics) deadLettered(cause string) {
	if m != nil {
		m.deadLetters.WithLabelValues(cause).Inc()
	}
}

func (m *Metrics) checked(outcome string) {
	if m != nil {
		m.checks.WithLabelValues(outcome).Inc()
	}
}
