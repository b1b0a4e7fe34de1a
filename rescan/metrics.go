package rescan

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics counts a rescan's items in a Prometheus registry of its own:
//
//   - aura_rescan_items_total{status,verdict}: finished items by status (ok, error,
//     skipped) and, for ok items, verdict ("" otherwise);
//   - aura_rescan_item_seconds: how long each checked item took (read, check, case),
//     skipped items not counted.
//
// Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	items   *prometheus.CounterVec
	seconds prometheus.Histogram
}

// NewMetrics returns the metrics, registered in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_rescan_items_total",
			Help: "Items a rescan finished, by status (ok, error, skipped) and verdict.",
		}, []string{"status", "verdict"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aura_rescan_item_seconds",
			Help:    "Time to read, check and open the case of one rescanned item.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1ms to 16s
		}),
	}
	m.reg.MustRegister(m.items, m.seconds)
	return m
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe counts one result.
func (m *Metrics) observe(r *Result) {
	v := ""
	if r.Status == OK {
		v = string(r.Verdict)
	}
	m.items.WithLabelValues(string(r.Status), v).Inc()
	if r.Status != Skipped {
		m.seconds.Observe(r.Millis / 1000)
	}
}
