package policyfile

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The results of one reload, the values of config_reloads_total's label.
const (
	resultApplied   = "applied"   // the file's policy is now in force
	resultUnchanged = "unchanged" // the file's policy equals the one last applied from it
	resultInvalid   = "invalid"   // the file does not parse or validate; the policy in force stays
	resultError     = "error"     // the file could not be read or watched
)

// Metrics are the reload collectors.
type Metrics struct {
	reloads     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	successful  prometheus.Gauge
}

// NewMetrics creates the reload collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "config_reloads_total", Help: "Reloads of CONFIG_FILE by result (applied, unchanged, invalid, error).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "config_last_reload_success_timestamp_seconds", Help: "When CONFIG_FILE was last read and found valid (applied or unchanged).",
		}),
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "config_last_reload_successful", Help: "1 when the last reload of CONFIG_FILE succeeded, 0 when it was refused.",
		}),
	}
	for _, r := range []string{resultApplied, resultUnchanged, resultInvalid, resultError} {
		m.reloads.WithLabelValues(r)
	}
	reg.MustRegister(m.reloads, m.lastSuccess, m.successful)
	return m
}

// observe counts one reload; the gauges are set before the counter, so a reader that saw the
// count sees them too.
func (m *Metrics) observe(result string, at time.Time) {
	if result == resultApplied || result == resultUnchanged {
		m.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
		m.successful.Set(1)
	} else {
		m.successful.Set(0)
	}
	m.reloads.WithLabelValues(result).Inc()
}
