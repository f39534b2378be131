package pgstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics time the store's operations as the service sees them (simulated latency included).
type Metrics struct {
	duration   *prometheus.HistogramVec
	statements *prometheus.CounterVec
	bypass     *prometheus.CounterVec
}

// NewMetrics creates db_query_duration_seconds{operation}, db_statements_total{target} and
// db_replica_bypass_total{reason} and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "db_query_duration_seconds",
			Help:    "Duration of catalogue store operations, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .2, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "db_statements_total",
			Help: "SQL statements run, by the database that served them (primary or replica).",
		}, []string{"target"}),
		bypass: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "db_replica_bypass_total",
			Help: "Reads sent to the primary although replicas are configured: read_your_writes (the row was written within DB_READ_YOUR_WRITES) or replica_failed (retried on the primary).",
		}, []string{"reason"}),
	}
	for _, t := range []string{TargetPrimary, TargetReplica} {
		m.statements.WithLabelValues(t)
	}
	for _, r := range []string{"read_your_writes", "replica_failed"} {
		m.bypass.WithLabelValues(r)
	}
	reg.MustRegister(m.duration, m.statements, m.bypass)
	return m
}

// observe records the duration of an operation that started at start; use it with defer.
func (s *Store) observe(operation string, start time.Time) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.duration.WithLabelValues(operation).Observe(time.Since(start).Seconds())
	}
}
