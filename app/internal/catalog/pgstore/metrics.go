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
	retries    *prometheus.CounterVec
	lockWaits  *prometheus.CounterVec
}

// NewMetrics creates db_query_duration_seconds{operation}, db_statements_total{target},
// db_replica_bypass_total{reason}, db_retries_total{op,reason} and
// db_lock_timeouts_total{operation} and registers them on reg.
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
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "db_retries_total",
			Help: "Statements run a second time, by op (read: a read run again; begin: a write transaction's BEGIN run again) and reason (replica_failed: a replica did not answer, the read went to the primary; conn_lost: the server closed the connection under the statement, it ran again on another).",
		}, []string{"op", "reason"}),
		lockWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "db_lock_timeouts_total",
			Help: "Writes that gave up waiting for a row lock held by another transaction (DB_LOCK_TIMEOUT), by operation; nothing was written.",
		}, []string{"operation"}),
	}
	for _, t := range []string{TargetPrimary, TargetReplica} {
		m.statements.WithLabelValues(t)
	}
	for _, r := range []string{"read_your_writes", "replica_failed"} {
		m.bypass.WithLabelValues(r)
	}
	for _, r := range [][2]string{{"read", retryReplicaFailed}, {"read", retryConnLost}, {"begin", retryConnLost}} {
		m.retries.WithLabelValues(r[0], r[1])
	}
	for _, op := range []string{"create", "update", "delete"} {
		m.lockWaits.WithLabelValues(op)
	}
	reg.MustRegister(m.duration, m.statements, m.bypass, m.retries, m.lockWaits)
	return m
}

// observe records the duration of an operation that started at start; use it with defer.
func (s *Store) observe(operation string, start time.Time) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.duration.WithLabelValues(operation).Observe(time.Since(start).Seconds())
	}
}
