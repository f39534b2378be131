package cache

import "github.com/prometheus/client_golang/prometheus"

// outboxMetrics are the relay's collectors.
type outboxMetrics struct {
	backlog   prometheus.Gauge
	oldestAge prometheus.Gauge
	lag       prometheus.Histogram
	applied   *prometheus.CounterVec
	failures  prometheus.Counter
}

// newOutboxMetrics creates the relay's collectors and registers them on reg.
func newOutboxMetrics(reg prometheus.Registerer) *outboxMetrics {
	m := &outboxMetrics{
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_outbox_backlog_rows", Help: "Invalidations waiting in the database outbox (as this instance's relay last saw it).",
		}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_outbox_oldest_age_seconds", Help: "Age of the oldest invalidation waiting in the outbox (0 when empty).",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cache_outbox_lag_seconds", Help: "Time from a write's commit to the relay applying its invalidation to Redis (rows the writer could not apply).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_outbox_applied_total", Help: "Outbox invalidations applied to Redis, by who applied them (writer at once, relay later).",
		}, []string{"by"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_outbox_failures_total", Help: "Relay attempts Redis did not take (the row stays; the relay backs off).",
		}),
	}
	for _, by := range []string{"writer", "relay"} {
		m.applied.WithLabelValues(by)
	}
	reg.MustRegister(m.backlog, m.oldestAge, m.lag, m.applied, m.failures)
	return m
}
