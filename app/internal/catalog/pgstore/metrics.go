package pgstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics time the store's operations as the service sees them (simulated latency included).
type Metrics struct {
	duration *prometheus.HistogramVec
}

// NewMetrics creates db_query_duration_seconds{operation} and registers it on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "db_query_duration_seconds",
		Help:    "Duration of catalogue store operations, by operation.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .2, .25, .5, 1, 2.5, 5},
	}, []string{"operation"})}
	reg.MustRegister(m.duration)
	return m
}

// observe records the duration of an operation that started at start; use it with defer.
func (s *Store) observe(operation string, start time.Time) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.duration.WithLabelValues(operation).Observe(time.Since(start).Seconds())
	}
}
